#!/usr/bin/env node
// @ts-check
// The headless CLI: serves the built app on localhost, drives it in headless Chromium through
// its `window.ctlab` API, streams progress to stderr and prints results on stdout. It adds no
// second code path: every command runs the same src/lib code the page runs.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openApp } from './lib/browser.mjs';
import { serveApp } from './lib/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `ctlab — Compressed Trust Lab from the command line

Usage:
  ctlab generate --model M --prompt TEXT [--max-new-tokens N] [--chat] [--temperature T --seed S]
                 [--stop STR]... [--device webgpu|wasm] [--json]
  ctlab ppl --model M (--text TEXT | --text-file F) [--device webgpu|wasm] [--json]
  ctlab eval --model M [--variants dense,rtn4,gptq3,awq4,wanda2:4,…] [--perspectives all|p,…]
             [--preset smoke|classroom|paper|full]
             [--mode generate|likelihood|both] [--data-dir D] [--seed S] --out results.json
             [--report report.html]
  ctlab score --perspective P --input FILE [--input FILE]... [--data-dir D] [--json]
             re-score outputs: this project's results/records files, or DecodingTrust's cached
             generations (fairness with its .npy files in D, machine ethics, OOD, adversarial
             demonstrations, AdvGLUE) and stereotype generation CSVs
  ctlab bench decode [--layers N] [--json]
             prefill/decode tokens/s of fp32 MatMul vs 4-bit MatMulNBits graphs on WASM and WebGPU
  ctlab download --model M [--json]     download (or resume) a model into the cache
  ctlab models [--json]                 list cached models
  ctlab delete --model M                remove a cached model

M is a local model folder, an http(s) base URL, or a Hugging Face id (org/name[@revision]).
Common options:
  --profile DIR   browser profile holding the cache (default ~/.cache/ctlab/profile)
  --port N        local port of the app (default 47613; the cache belongs to this origin)
  --json          machine-readable output on stdout
  --quiet         no progress on stderr
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    prompt: { type: 'string' },
    text: { type: 'string' },
    'text-file': { type: 'string' },
    'max-new-tokens': { type: 'string', default: '64' },
    temperature: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    stop: { type: 'string', multiple: true },
    chat: { type: 'boolean', default: false },
    device: { type: 'string', default: 'auto' },
    perspectives: { type: 'string', default: 'all' },
    variants: { type: 'string', default: 'dense' },
    report: { type: 'string' },
    preset: { type: 'string', default: 'smoke' },
    mode: { type: 'string', default: 'generate' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
    perspective: { type: 'string' },
    input: { type: 'string', multiple: true },
    layers: { type: 'string', default: '4' },
    profile: { type: 'string' },
    port: { type: 'string', default: '47613' },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const command = positionals[0];
if (values.help || !command) {
  process.stdout.write(USAGE);
  process.exit(command || values.help ? 0 : 2);
}

/** @param {string} msg */
function fail(msg) {
  process.stderr.write(`ctlab: ${msg}\n`);
  process.exit(1);
}

async function ensureBuilt() {
  const dist = join(root, 'dist');
  if (existsSync(join(dist, 'index.html'))) return dist;
  process.stderr.write('ctlab: building the app (first run)…\n');
  const { build } = await import('vite');
  await build({ root, logLevel: 'warn' });
  return dist;
}

/**
 * A file for the page: text as is, binary as base64.
 * @param {string} file
 * @param {string} path
 */
function wireFile(file, path) {
  if (!existsSync(file)) fail(`no such file: ${file}`);
  const bytes = readFileSync(file);
  return /\.(npy|npz|bin)$/.test(file) ? { path, base64: bytes.toString('base64') } : { path, text: bytes.toString('utf8') };
}

/** DecodingTrust's folder for each perspective whose re-scoring needs data files. */
const DATA_FOLDERS = /** @type {Record<string, string>} */ ({
  fairness: 'fairness',
  machine_ethics: 'machine_ethics',
  ood: 'ood',
  adv_demonstration: 'adv_demonstration',
});

/**
 * Every file of the perspective's data folder under `dir` (DecodingTrust's layout, or the folder itself).
 * @param {string} dir
 * @param {string} perspective
 */
function dataFilesFor(dir, perspective) {
  const folder = DATA_FOLDERS[perspective];
  const nested = folder ? join(dir, 'decodingtrust', folder) : null;
  const start = nested && existsSync(nested) ? nested : dir;
  /** @type {{ path: string, text?: string, base64?: string }[]} */
  const out = [];
  /** @param {string} d */
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(wireFile(full, relative(dir, full)));
    }
  };
  walk(start);
  return out;
}

/** @param {'max-new-tokens'} name */
function positiveInt(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer`);
  return n;
}

/** @param {string | undefined} m */
function modelArg(m) {
  if (!m) fail('--model is required');
  const model = /** @type {string} */ (m);
  if (existsSync(model) && statSync(model).isDirectory()) return { kind: 'dir', path: resolve(model) };
  if (/^https?:\/\//.test(model)) return { kind: 'url', url: model };
  if (/^[./~]/.test(model) || model.split('/').length > 2) fail(`no such model folder: ${model}`);
  return { kind: 'hub', id: model };
}

let lastProgress = '';
let streamed = '';
/** @param {any} e */
function progress(e) {
  if (!e) return;
  if (e.phase === 'text') {
    // Streamed generation goes to stdout unless stdout is reserved for JSON.
    if (!values.json) process.stdout.write(e.text);
    streamed += e.text;
    return;
  }
  if (values.quiet) return;
  if (e.phase === 'run') {
    const ev = e.event;
    if (ev.phase === 'download') return progress(ev.progress);
    let line = '';
    if (ev.phase === 'compress') line = `[${ev.variant}] ${ev.message}${ev.fraction != null ? ` ${(100 * ev.fraction).toFixed(0)}%` : ''}`;
    if (ev.phase === 'evaluate' && (ev.done === ev.total || ev.done % 10 === 0))
      line = `[${ev.variant} · ${ev.perspective} ${ev.mode}] ${ev.done}/${ev.total}${ev.reused ? ` (${ev.reused} reused)` : ''}`;
    if (ev.phase === 'variant-done') line = `[${ev.variant}] done`;
    if (ev.phase === 'error') line = `run stopped: ${ev.message}`;
    if (line && line !== lastProgress) process.stderr.write(`${line}\n`);
    lastProgress = line || lastProgress;
    return;
  }
  if (e.phase === 'status') {
    process.stderr.write(`${e.message}\n`);
    return;
  }
  const pct = e.total ? ` ${((100 * e.loaded) / e.total).toFixed(0)}%` : '';
  const line = `${e.file ?? e.phase}: ${e.phase}${pct}`;
  if (line !== lastProgress) process.stderr.write(`${line}\n`);
  lastProgress = line;
}

async function main() {
  const spec = ['models', 'score', 'bench'].includes(command) ? null : modelArg(values.model);
  const dist = await ensureBuilt();
  const dataDir = values['data-dir'];
  if (dataDir && !(existsSync(dataDir) && statSync(dataDir).isDirectory())) fail(`no such data folder: ${dataDir}`);
  const server = await serveApp({
    dataDirs: dataDir ? [dataDir] : [],
    root,
    dist,
    modelDirs: spec?.kind === 'dir' && spec.path ? [spec.path] : [],
    port: Number(values.port),
  });
  const profile = resolve(values.profile ?? join(homedir(), '.cache', 'ctlab', 'profile'));
  mkdirSync(profile, { recursive: true });
  const app = await openApp({
    origin: server.origin,
    profile,
    onProgress: progress,
    onLog: (l) => values.quiet || process.stderr.write(`${l}\n`),
  });
  const source = !spec ? null : spec.kind === 'dir' ? { kind: 'url', url: server.modelUrls[0] } : spec;
  try {
    let result;
    const device = /** @type {string} */ (values.device);
    if (!['auto', 'webgpu', 'wasm'].includes(device)) fail(`--device must be webgpu, wasm or auto, not ${device}`);
    switch (command) {
      case 'generate': {
        if (values.prompt === undefined) fail('generate needs --prompt TEXT');
        const prompt = /** @type {string} */ (values.prompt);
        const request = {
          ...(values.chat ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
          maxNewTokens: positiveInt('max-new-tokens'),
          temperature: Number(values.temperature),
          seed: Number(values.seed),
          stop: values.stop ?? [],
        };
        result = await app.call('generate', { source, device, request });
        if (!values.json) {
          // Streamed pieces travel asynchronously from the page; print whatever had not arrived yet.
          process.stdout.write(`${result.text.startsWith(streamed) ? result.text.slice(streamed.length) : ''}\n`);
          process.stderr.write(
            `${result.newIds.length} tokens · ${result.finish} · ${result.device}${result.adapter ? ` (${result.adapter})` : ''}\n`,
          );
          return;
        }
        result = {
          ids: result.ids,
          prompt_ids: result.promptIds,
          text: result.text,
          finish: result.finish,
          device: result.device,
          adapter: result.adapter,
          tokens_per_second: result.tokensPerSecond,
        };
        break;
      }
      case 'eval': {
        if (!values.out) fail('eval needs --out results.json');
        const mode = /** @type {string} */ (values.mode);
        if (!['generate', 'likelihood', 'both'].includes(mode)) fail(`--mode must be generate, likelihood or both, not ${mode}`);
        const perspectives =
          values.perspectives === 'all'
            ? 'all'
            : String(values.perspectives)
                .split(',')
                .map((p) => p.trim())
                .filter(Boolean);
        const request = {
          perspectives,
          variants: values.variants,
          preset: values.preset,
          seed: Number(values.seed),
          mode,
          ...(dataDir ? { dataUrl: server.dataUrls[0] } : {}),
        };
        const doc = await app.call('eval', { source, device, request });
        writeFileSync(/** @type {string} */ (values.out), `${JSON.stringify(doc, null, 1)}\n`);
        if (values.report) writeFileSync(values.report, await app.call('report', { doc }));
        result = doc.results.map((/** @type {any} */ r) => ({
          perspective: r.perspective,
          mode: r.mode,
          score: r.score,
          refusal_rate: r.refusalRate,
          n: r.n,
        }));
        if (!values.json) {
          for (const r of result)
            process.stdout.write(
              `${r.perspective.padEnd(18)} ${r.mode.padEnd(10)} score ${Number(r.score).toFixed(1).padStart(5)}  refusal ${Number(r.refusal_rate).toFixed(1).padStart(5)}  n ${r.n}\n`,
            );
          process.stderr.write(`wrote ${values.out}\n`);
          return;
        }
        break;
      }
      case 'score': {
        if (!values.perspective) fail('score needs --perspective P');
        if (!values.input?.length) fail('score needs --input FILE');
        const inputs = (values.input ?? []).map((f) => wireFile(f, basename(f)));
        const data = dataDir ? dataFilesFor(dataDir, /** @type {string} */ (values.perspective)) : [];
        const scores = await app.call('score', { perspective: values.perspective, inputs, data });
        result = scores.map((/** @type {any} */ s) => ({
          perspective: s.perspective,
          ...(s.variant ? { variant: s.variant } : {}),
          mode: s.mode,
          score: s.score,
          refusal_rate: s.refusalRate,
          n: s.n,
          ...(s.scorer ? { scorer: s.scorer } : {}),
          breakdown: s.breakdown,
        }));
        break;
      }
      case 'bench': {
        if (positionals[1] !== 'decode') fail('usage: ctlab bench decode [--layers N] [--json]');
        const r = await app.call('benchDecode', { layers: Number(values.layers) });
        if (!values.json) {
          process.stdout.write(`${r.model}; adapter: ${r.adapter ?? 'none'}; prompt ${r.promptTokens} tokens, ${r.newTokens} new\n`);
          process.stdout.write('graph  device  prefill tok/s  decode tok/s  decode vs fp32/wasm  graph MB\n');
          for (const row of r.rows) {
            const ratio = r.ratios[`${row.graph}/${row.device}`];
            process.stdout.write(
              `${row.graph.padEnd(6)} ${row.device.padEnd(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(13)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${(ratio ?? NaN).toFixed(2).padStart(19)} ${(row.graphBytes / 1e6).toFixed(1).padStart(9)}\n`,
            );
          }
          return;
        }
        result = r;
        break;
      }
      case 'ppl': {
        const text = values['text-file'] ? readFileSync(values['text-file'], 'utf8') : values.text;
        if (text === undefined) fail('ppl needs --text TEXT or --text-file F');
        result = await app.call('ppl', { source, device, text });
        break;
      }
      case 'download':
        result = await app.call('download', { source });
        break;
      case 'models':
        result = await app.call('models', {});
        break;
      case 'delete':
        result = await app.call('delete', { source });
        break;
      default:
        fail(`unknown command "${command}"\n\n${USAGE}`);
    }
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await app.close();
    await server.close();
  }
}

/** Errors from the page arrive wrapped by Playwright with the page's stack; people need the message. */
function cleanError(/** @type {unknown} */ err) {
  const text = err instanceof Error ? err.message : String(err);
  const first = text
    .split('\n')[0]
    .replace(/^page\.evaluate: /, '')
    .replace(/^[A-Za-z]*Error: /, '');
  return first;
}

main().catch((err) => fail(cleanError(err)));
