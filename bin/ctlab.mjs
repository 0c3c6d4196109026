#!/usr/bin/env node
// @ts-check
// The headless CLI: serves the built app on localhost, drives it in headless Chromium through
// its `window.ctlab` API, streams progress to stderr and prints results on stdout. It adds no
// second code path: every command runs the same src/lib code the page runs.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchScale, DEFAULT_SCALE_MODELS, scaleTable } from './lib/bench-scale.mjs';
import { openApp } from './lib/browser.mjs';
import { formatBytes, formatDuration, progressLines } from './lib/progress-lines.mjs';
import { serveApp } from './lib/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lines = progressLines({ stream: process.stderr });
const USAGE = `ctlab — Compressed Trust Lab from the command line

Usage:
  ctlab generate --model M --prompt TEXT [--max-new-tokens N] [--chat] [--temperature T --seed S]
                 [--stop STR]... [--device auto|webgpu|wasm] [--json]
  ctlab ppl --model M (--text TEXT | --text-file F) [--device auto|webgpu|wasm] [--json]
  ctlab eval --model M [--variants dense,rtn4,gptq3,awq4,wanda2:4,…] [--perspectives all|p,…]
             [--preset smoke|classroom|paper|full]
             [--mode generate|likelihood|both] [--data-dir D] [--seed S] [--device auto|webgpu|wasm] --out results.json
             [--report report.html] [--toxicity-model T]
             [--seeds 0,1,2] [--shard K/N] [--variant-dir ID=DIR]...
             --seeds: the plan once per seed (the report adds mean and spread across seeds);
             --shard K/N (0 ≤ K < N): only shard K's share of the plan's units, its runs
             resumed after a restart (same --profile); --variant-dir: a variant exported by
             ctlab compress, loaded instead of compressed again
  ctlab plan --model M [eval's plan options: --variants --perspectives --preset --mode --seed(s)
             --data-dir --toxicity-model] [--shard K/N] [--json]
             the plan's id and work units (compressions; variant × perspective × mode) with
             what each needs; with --shard, which of them that shard runs
  ctlab merge R1.json R2.json … --out results.json [--report report.html]
             the shards' results files of one plan as the single run's file; refuses files
             of other plans and units in two files, and names the units no file holds
  ctlab score --perspective P --input FILE|DIR [--input FILE|DIR]... [--data-dir D]
             [--setting S | --cell S] [--toxicity-model T] [--json]
             re-score outputs: this project's results/records files, or the outputs DecodingTrust
             wrote or published, as they come from its repository (paths kept: the cell is in
             them); D holds DecodingTrust's data (labels, options); --setting names the cell
             when neither name nor path says it
             --toxicity-model T (eval and score): toxicity scored by a text-classification model
             (a local folder or a Hugging Face id with config.json (id2label), tokenizer.json,
             tokenizer_config.json and onnx/model_quantized.onnx or onnx/model.onnx, e.g.
             Xenova/toxic-bert), kept in the cache like the models; without it, the offline
             lexicon proxy. Every toxicity score names its scorer.
  ctlab bench decode [--layers N] [--json]
             prefill/decode tokens/s of fp32 MatMul vs 4-bit MatMulNBits graphs on WASM and WebGPU
  ctlab compress --model M --method rtn|gptq|awq|magnitude|wanda|sparsegpt [--bits 3|4|8]
             [--group-size G] [--sym|--asym] [--act-order] [--sparsity 2:4|4:8|0.5]
             [--calib-file F | --calib-url U | --calib self|builtin (default)] [--samples N] [--seq-len L]
             [--seed S] [--kernels auto|webgpu|typescript] [--forward auto|typescript|ort-wasm]
             --out DIR [--json]
             compress into a variant (kept in the cache) and write it to DIR as a Hugging Face
             folder with onnx/ and ctlab-variant.json; the report goes to stdout
  ctlab kl --model DENSE --variant V (--text-file F | --text T) [--device auto|webgpu|wasm] [--json]
             mean KL(dense ‖ variant) of next-token distributions and both perplexities
  ctlab bench compress [--layers N] [--samples N] [--seq-len L] [--methods m,…]
             [--kernels webgpu,typescript] [--json]
             time per layer and end to end per method on a SmolLM2-135M-shaped random model
             (all 30 layers unless --layers N; 4 × 64 calibration tokens unless --samples /
             --seq-len), WGSL kernels against their TypeScript references in one run
  ctlab bench scale [--models id,…] [--layers N] [--devices wasm,webgpu] [--prompt-tokens 64]
             [--new-tokens 16] [--out-dir DIR] [--json]
             per model shape of src/lib/model/known-models.json (random bf16 weights, written into
             DIR, default ~/.cache/ctlab/shapes, when missing): download and graph build time, peak
             memory of the browser's processes (overall and while generating, against the fp32
             weights) and prefill/decode tokens/s per device, each shape in a fresh browser profile
             (default models: ${DEFAULT_SCALE_MODELS.join(',')})
  ctlab download --model M [--json]     download (or resume) a model into the cache
  ctlab models [--json]                 list cached models
  ctlab delete --model M                remove a cached model and the variants compressed from it

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
    setting: { type: 'string' },
    cell: { type: 'string' },
    'toxicity-model': { type: 'string' },
    layers: { type: 'string' },
    method: { type: 'string' },
    bits: { type: 'string' },
    'group-size': { type: 'string' },
    sym: { type: 'boolean', default: false },
    asym: { type: 'boolean', default: false },
    'act-order': { type: 'boolean', default: false },
    sparsity: { type: 'string' },
    'calib-file': { type: 'string' },
    'calib-url': { type: 'string' },
    calib: { type: 'string' },
    samples: { type: 'string' },
    'seq-len': { type: 'string' },
    kernels: { type: 'string' },
    forward: { type: 'string' },
    methods: { type: 'string' },
    models: { type: 'string' },
    devices: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    'new-tokens': { type: 'string' },
    'out-dir': { type: 'string' },
    variant: { type: 'string' },
    seeds: { type: 'string' },
    shard: { type: 'string' },
    'variant-dir': { type: 'string', multiple: true },
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

/** @param {string} msg @returns {never} */
function fail(msg) {
  lines.close();
  process.stderr.write(`ctlab: ${msg}\n`);
  process.exit(1);
}

/**
 * @param {string} path
 * @returns {number}
 */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

async function ensureBuilt() {
  const dist = join(root, 'dist');
  const built = existsSync(join(dist, 'index.html')) ? statSync(join(dist, 'index.html')).mtimeMs : 0;
  const sources = ['src', 'workers', 'shaders', 'public', 'index.html', 'vite.config.ts', 'package-lock.json'];
  // A checkout that moved on since the last build must not run the old page.
  if (built && sources.every((s) => newestMtime(join(root, s)) <= built)) return dist;
  process.stderr.write(
    built ? 'ctlab: sources changed since the last build; rebuilding the app…\n' : 'ctlab: building the app (first run)…\n',
  );
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

/**
 * Every file under `dir`, each with its path relative to `base` (the perspective's DecodingTrust
 * folder `data/<folder>` when `dir` holds DecodingTrust's layout, else `dir` itself).
 * @param {string} dir
 * @param {string | undefined} folder the perspective's folder in DecodingTrust's `data/`
 */
function dataFilesFor(dir, folder) {
  const nested = folder ? [join(dir, 'decodingtrust', folder), join(dir, folder)].find((d) => existsSync(d)) : undefined;
  /** @type {{ path: string, text?: string, base64?: string }[]} */
  const out = [];
  for (const full of walkFiles(nested ?? dir)) out.push(wireFile(full, relative(dir, full)));
  return out;
}

/**
 * Files of a path the user gave: itself, or every file below a folder, each named by the path as
 * the user would write it (the cell of a DecodingTrust output is often in its folders).
 * @param {string} given
 */
function inputFiles(given) {
  if (!existsSync(given)) fail(`no such file or folder: ${given}`);
  if (!statSync(given).isDirectory()) return [wireFile(given, given)];
  const files = walkFiles(given).filter((f) => !basename(f).startsWith('.') && !/\.(md|txt)$/i.test(f));
  if (files.length === 0) fail(`${given} holds no files`);
  return files.map((f) => wireFile(f, join(given, relative(given, f))));
}

/** @param {string} dir @returns {string[]} files below `dir`, sorted */
function walkFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walkFiles(full));
    else out.push(full);
  }
  return out;
}

/** @param {number} v */
const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/**
 * A re-scored perspective as text: the score, DecodingTrust's own numbers, then one line per cell
 * of the breakdown.
 * @param {any} r
 */
function scoreTable(r) {
  const lines = [
    `${r.perspective}${r.variant ? ` (${r.variant})` : ''}: score ${fmt(r.score)}  refusal ${fmt(r.refusal_rate)}  n ${r.n}${r.scorer ? `  scorer ${r.scorer}` : ''}`,
  ];
  if (r.decodingtrust)
    lines.push(
      `  DecodingTrust: ${Object.entries(r.decodingtrust)
        .map(([k, v]) => `${k} ${fmt(Number(v))}`)
        .join('  ')}`,
    );
  /** @param {string} cell @param {unknown} v */
  const row = (cell, v) => {
    if (typeof v === 'number') return lines.push(`  ${cell.padEnd(40)} ${fmt(v)}`);
    if (!v || typeof v !== 'object') return;
    const numbers = Object.entries(v).filter(([, x]) => typeof x === 'number');
    if (numbers.length) lines.push(`  ${cell.padEnd(40)} ${numbers.map(([k, x]) => `${k} ${fmt(Number(x))}`).join('  ')}`);
    // A group of cells (e.g. per scenario) gets a row per member.
    else for (const [k, x] of Object.entries(v)) if (x && typeof x === 'object') row(`${cell}/${k}`, x);
  };
  for (const [cell, v] of Object.entries(r.breakdown ?? {})) row(cell, v);
  for (const n of r.notes ?? []) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
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

let lastNote = '';
let streamed = '';
/** Set once the final text is printed: pieces still in flight from the page are in it already. */
let streamClosed = false;
/** @type {{ fraction: number, etaSeconds: number | null } | null} */
let overall = null;

/** A status line, unless it repeats the one before. @param {string} text */
function note(text) {
  if (text !== lastNote) lines.note(text);
  lastNote = text;
}

/** The whole run's figure, appended to the current step's line. */
const overallText = () =>
  overall
    ? `run ${Math.floor(100 * overall.fraction)} %${overall.etaSeconds != null ? ` · ETA ${formatDuration(overall.etaSeconds)}` : ''}`
    : undefined;

/**
 * A cache event of one file: checking, downloading, stored as one updating line; cached, absent
 * and failed as a line each.
 * @param {any} e
 */
function fileProgress(e) {
  const key = `file:${e.model}:${e.file}`;
  if (e.phase === 'cached' || e.phase === 'absent' || e.phase === 'failed')
    return lines.finish(key, `${e.file}: ${e.phase}${e.phase === 'cached' && e.total ? ` (${formatBytes(e.total)})` : ''}`);
  lines.update(key, {
    label: `${e.file}: ${e.phase}`,
    done: e.loaded,
    total: e.total ?? null,
    unit: 'bytes',
    final: e.phase === 'stored',
  });
}

/** @param {any} e */
function progress(e) {
  if (!e) return;
  if (e.phase === 'text') {
    if (streamClosed) return;
    // Streamed generation goes to stdout unless stdout is reserved for JSON.
    lines.close();
    if (!values.json) process.stdout.write(e.text);
    streamed += e.text;
    return;
  }
  if (values.quiet) return;
  if (e.phase === 'run') {
    const ev = e.event;
    if (e.overall) overall = e.overall;
    if (ev.phase === 'download') return fileProgress(ev.progress);
    if (ev.phase === 'compress') {
      const fraction = ev.fraction ?? 0;
      return lines.update(`compress:${ev.variant}`, {
        label: `[${ev.variant}] compress`,
        done: 100 * fraction,
        total: 100,
        unit: 'percent',
        detail: [ev.message, overallText()].filter(Boolean).join(' · '),
        final: false,
      });
    }
    if (ev.phase === 'evaluate')
      return lines.update(`evaluate:${ev.variant}:${ev.perspective}:${ev.mode}`, {
        label: `[${ev.variant} · ${ev.perspective} ${ev.mode}]`,
        done: ev.done,
        total: ev.total,
        noun: 'items',
        detail: [ev.reused ? `${ev.reused} reused` : '', overallText()].filter(Boolean).join(' · '),
      });
    if (ev.phase === 'graph')
      return lines.update(`graph:${ev.variant}`, {
        label: `[${ev.variant}] building the ONNX graph:`,
        done: ev.done,
        total: ev.total,
        unit: 'bytes',
        detail: overallText(),
      });
    if (ev.phase === 'fidelity')
      return lines.update(`fidelity:${ev.variant}`, {
        label: `[${ev.variant}] fidelity to dense`,
        done: ev.done,
        total: ev.total,
        noun: 'windows',
        detail: overallText(),
      });
    if (ev.phase === 'load') {
      lines.close();
      return note(`[${ev.variant}] loading and measuring its speed`);
    }
    if (ev.phase === 'variant-done') {
      lines.close();
      note(`[${ev.variant}] done${overall ? ` · ${overallText()}` : ''}`);
    }
    if (ev.phase === 'done') lines.close();
    if (ev.phase === 'error') {
      lines.close();
      note(`run stopped: ${ev.message}`);
    }
    return;
  }
  if (e.phase === 'status') return note(e.message);
  if (e.phase === 'graph') return lines.update('graph', { label: 'building the ONNX graph:', done: e.done, total: e.total, unit: 'bytes' });
  if (e.phase === 'compress') {
    const p = e.progress;
    if (p.phase === 'compress' && p.layers)
      return lines.update('compress', {
        label: 'compress:',
        done: p.fraction * p.layers,
        total: p.layers,
        noun: 'layers',
        per: 'min',
        detail: String(p.message).replace(/^layer \d+\/\d+: /, ''),
        final: false,
      });
    if (p.phase === 'store' && p.total)
      return lines.update(`store:${p.file}`, { label: `storing ${p.file}:`, done: p.done, total: p.total, unit: 'bytes' });
    lines.close();
    return note(p.message);
  }
  fileProgress(e);
}

/**
 * A non-negative integer option, or undefined when absent.
 * @param {'bits' | 'group-size' | 'samples' | 'seq-len' | 'layers'} name
 */
function optionalInt(name) {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, not ${v}`);
  return n;
}

/** The compression request of `ctlab compress`, checked for shape here and for meaning in the page. */
function compressRequest() {
  const method = values.method;
  if (!method) fail('compress needs --method rtn|gptq|awq|magnitude|wanda|sparsegpt');
  /** @type {Record<string, unknown>} */
  const settings = { method };
  const bits = optionalInt('bits');
  if (bits !== undefined) settings.bits = bits;
  const groupSize = optionalInt('group-size');
  if (groupSize !== undefined) settings.groupSize = groupSize;
  if (values.sym && values.asym) fail('--sym and --asym exclude each other');
  if (values.sym) settings.sym = true;
  if (values.asym) settings.sym = false;
  if (values['act-order']) settings.actOrder = true;
  if (values.sparsity !== undefined) {
    const nm = /^(\d+):(\d+)$/.exec(values.sparsity);
    const ratio = Number(values.sparsity);
    if (nm) settings.sparsity = { n: Number(nm[1]), m: Number(nm[2]) };
    else if (/^\d*\.?\d+$/.test(values.sparsity) && ratio >= 0 && ratio <= 1) settings.sparsity = { ratio };
    else fail(`--sparsity must be N:M (2:4, 4:8) or a ratio in [0, 1] (0.5), not ${values.sparsity}`);
  }
  const given = [values['calib-file'], values['calib-url'], values.calib].filter((v) => v !== undefined);
  if (given.length > 1) fail('compress takes one of --calib-file F, --calib-url U, --calib self|builtin');
  // The built-in text needs no generation pass and gives every run the same calibration.
  /** @type {Record<string, unknown>} */
  let calibration = { kind: values.calib ?? 'builtin' };
  if (values['calib-file'] !== undefined) {
    const f = values['calib-file'];
    if (!existsSync(f)) fail(`no such file: ${f}`);
    calibration = { kind: 'text', text: readFileSync(f, 'utf8'), name: basename(f) };
  } else if (values['calib-url'] !== undefined) calibration = { kind: 'url', url: values['calib-url'] };
  else if (calibration.kind !== 'self' && calibration.kind !== 'builtin') fail(`--calib must be self or builtin, not ${values.calib}`);
  const kernels = values.kernels ?? 'auto';
  if (!['auto', 'webgpu', 'typescript'].includes(kernels)) fail(`--kernels must be auto, webgpu or typescript, not ${kernels}`);
  const forward = values.forward ?? 'auto';
  if (!['auto', 'typescript', 'ort-wasm', 'ort-webgpu'].includes(forward))
    fail(`--forward must be auto, typescript, ort-wasm or ort-webgpu, not ${forward}`);
  const samples = optionalInt('samples');
  const seqLen = optionalInt('seq-len');
  return {
    settings,
    calibration,
    ...(samples !== undefined ? { samples } : {}),
    ...(seqLen !== undefined ? { seqLen } : {}),
    seed: Number(values.seed),
    kernels,
    forward,
  };
}

/**
 * Writes a stored variant's files into `dir`, fetched from the page in base64 slices.
 * @param {{ call: (m: string, a: unknown) => Promise<any> }} app
 * @param {string} key
 * @param {string} dir
 */
async function exportVariant(app, key, dir) {
  /** @type {{ path: string, bytes: number }[]} */
  const files = await app.call('variantFiles', { key });
  const slice = 8 * 1024 * 1024;
  for (const f of files) {
    const target = join(dir, f.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, new Uint8Array(0));
    for (let offset = 0; offset < f.bytes; offset += slice) {
      const length = Math.min(slice, f.bytes - offset);
      const b64 = await app.call('variantChunk', { key, path: f.path, offset, length });
      appendFileSync(target, Buffer.from(b64, 'base64'));
      if (!values.quiet && offset + length < f.bytes)
        lines.update(`export:${f.path}`, { label: `exporting ${f.path}:`, done: offset + length, total: f.bytes, unit: 'bytes' });
    }
    if (!values.quiet) lines.finish(`export:${f.path}`, `wrote ${target} (${f.bytes} bytes)`);
  }
  return files;
}

/** `ctlab bench scale`: a browser per shape and device, so it runs apart from the one-page commands. */
async function benchScaleCommand() {
  /** @param {'prompt-tokens' | 'new-tokens'} name @param {number} fallback @param {number} min */
  const count = (name, fallback, min) => {
    const v = values[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer of at least ${min}, not ${v}`);
    return n;
  };
  /** @param {string | undefined} v */
  const list = (v) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const models = values.models === undefined ? DEFAULT_SCALE_MODELS : list(values.models);
  if (!models.length) fail('--models needs at least one model id');
  const devices = values.devices === undefined ? ['wasm', 'webgpu'] : list(values.devices);
  const bad = devices.filter((d) => d !== 'wasm' && d !== 'webgpu');
  if (bad.length || !devices.length) fail(`--devices takes wasm and/or webgpu, not ${values.devices}`);
  const layers = optionalInt('layers');
  if (layers === 0) fail('--layers must be a positive integer');
  const opts = {
    models,
    ...(layers !== undefined ? { layers } : {}),
    devices: /** @type {('wasm' | 'webgpu')[]} */ (devices),
    promptTokens: count('prompt-tokens', 64, 1),
    // Decode speed is measured after the first token, so it needs a second one.
    newTokens: count('new-tokens', 16, 2),
    shapesDir: resolve(values['out-dir'] ?? join(homedir(), '.cache', 'ctlab', 'shapes')),
    port: Number(values.port),
    quiet: values.quiet === true,
  };
  const dist = await ensureBuilt();
  const report = await benchScale({
    root,
    dist,
    opts,
    // Neither the gibberish of random weights nor a cached file's progress tells anyone anything here.
    onProgress: (/** @type {any} */ e) => (e?.phase === 'text' || e?.phase === 'cached' ? undefined : progress(e)),
    log: (line) => opts.quiet || lines.note(line),
    cleanError,
  });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : scaleTable(report));
}

async function main() {
  if (command === 'bench' && positionals[1] === 'scale') return benchScaleCommand();
  const spec = ['models', 'score', 'bench', 'merge'].includes(command) ? null : modelArg(values.model);
  if (command === 'kl' && !values.variant) fail('kl needs --variant V (a model folder, URL or hub id)');
  const variantSpec = command === 'kl' ? modelArg(values.variant) : null;
  const toxicityGiven = values['toxicity-model'];
  if (toxicityGiven !== undefined && !['eval', 'score'].includes(command)) fail('--toxicity-model applies to eval and score');
  const toxicitySpec = toxicityGiven === undefined ? null : modelArg(toxicityGiven);
  if (command === 'compress' && !values.out) fail('compress needs --out DIR');
  const request = command === 'compress' ? compressRequest() : null;
  const dist = await ensureBuilt();
  const dataDir = values['data-dir'];
  if (dataDir && !(existsSync(dataDir) && statSync(dataDir).isDirectory())) fail(`no such data folder: ${dataDir}`);
  const variantDirs = variantDirArgs();
  const modelDirs = [spec, variantSpec, toxicitySpec]
    .flatMap((m) => (m?.kind === 'dir' && m.path ? [m.path] : []))
    .concat(variantDirs.map((v) => v.dir));
  const server = await serveApp({
    dataDirs: dataDir ? [dataDir] : [],
    root,
    dist,
    modelDirs,
    port: Number(values.port),
  });
  const profile = resolve(values.profile ?? join(homedir(), '.cache', 'ctlab', 'profile'));
  mkdirSync(profile, { recursive: true });
  const app = await openApp({
    origin: server.origin,
    profile,
    onProgress: progress,
    onLog: (l) => values.quiet || lines.note(l),
  });
  const source = !spec ? null : spec.kind === 'dir' ? { kind: 'url', url: server.modelUrls[0] } : spec;
  const variantSource = !variantSpec
    ? null
    : variantSpec.kind === 'dir'
      ? { kind: 'url', url: server.modelUrls[spec?.kind === 'dir' ? 1 : 0] }
      : variantSpec;
  // A folder is served by the local server like a model folder; the page caches it under its URL.
  const toxicityModel = !toxicitySpec
    ? undefined
    : toxicitySpec.kind === 'dir'
      ? { kind: 'url', url: server.modelUrls[modelDirs.lastIndexOf(/** @type {string} */ (toxicitySpec.path))] }
      : toxicitySpec;
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
          streamClosed = true;
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
      case 'plan': {
        const plan = await app.call('plan', { request: evalRequest(server, toxicityModel, toxicitySpec, spec) });
        if (!values.json) {
          const mine = plan.mine ? new Set(plan.mine) : null;
          process.stdout.write(`plan ${plan.id}: ${plan.units.length} units${mine ? `; shard ${values.shard} runs ${mine.size}` : ''}\n`);
          for (const u of plan.units) if (!mine || mine.has(u.id)) process.stdout.write(`${u.id}\n`);
          return;
        }
        result = plan;
        break;
      }
      case 'merge': {
        if (!values.out) fail('merge needs --out results.json');
        const names = positionals.slice(1);
        if (names.length === 0) fail("merge needs the shards' results files");
        const files = names.map((name) => {
          if (!existsSync(name)) fail(`no such file: ${name}`);
          try {
            return { name, doc: JSON.parse(readFileSync(name, 'utf8')) };
          } catch {
            fail(`${name} is not JSON`);
          }
        });
        const doc = await app.call('merge', { files });
        writeFileSync(/** @type {string} */ (values.out), `${JSON.stringify(doc, null, 1)}\n`);
        if (values.report) writeFileSync(values.report, await app.call('report', { doc }));
        result = { plan: doc.plan.id, files: names.length, units: doc.plan.units.length, results: doc.results.length };
        if (!values.json) {
          process.stderr.write(
            `merged ${names.length} files of plan ${doc.plan.id} (${doc.plan.units.length} units); wrote ${values.out}\n`,
          );
          return;
        }
        break;
      }
      case 'eval': {
        if (!values.out) fail('eval needs --out results.json');
        const request = {
          ...evalRequest(server, toxicityModel, toxicitySpec, spec),
          ...(variantDirs.length
            ? {
                variantSources: Object.fromEntries(
                  variantDirs.map((v) => [v.id, { kind: 'url', url: server.modelUrls[modelDirs.indexOf(v.dir)] }]),
                ),
              }
            : {}),
        };
        const doc = await app.call('eval', { source, device, request });
        writeFileSync(/** @type {string} */ (values.out), `${JSON.stringify(doc, null, 1)}\n`);
        if (values.report) writeFileSync(values.report, await app.call('report', { doc }));
        result = doc.results.map((/** @type {any} */ r) => ({
          variant: r.variant ?? 'dense',
          perspective: r.perspective,
          mode: r.mode,
          score: r.score,
          refusal_rate: r.refusalRate,
          n: r.n,
          ...(r.scorer ? { scorer: r.scorer } : {}),
        }));
        if (!values.json) {
          for (const r of result)
            process.stdout.write(
              `${String(r.variant).padEnd(12)} ${r.perspective.padEnd(18)} ${r.mode.padEnd(10)} score ${Number(r.score).toFixed(1).padStart(5)}  refusal ${Number(r.refusal_rate).toFixed(1).padStart(5)}  n ${r.n}${r.scorer ? `  scorer ${r.scorer}` : ''}\n`,
            );
          process.stderr.write(`wrote ${values.out}\n`);
          return;
        }
        break;
      }
      case 'score': {
        if (!values.perspective) fail('score needs --perspective P');
        // `--input a b c` (a shell glob) leaves b and c as positionals: they are inputs too.
        const given = [...(values.input ?? []), ...positionals.slice(1)];
        if (given.length === 0) fail('score needs --input FILE');
        const inputs = given.flatMap(inputFiles);
        const folder = await app.call('dataFolder', { perspective: values.perspective });
        const data = dataDir ? dataFilesFor(dataDir, folder) : [];
        const setting = values.setting ?? values.cell;
        const scores = await app.call('score', {
          perspective: values.perspective,
          inputs,
          data,
          ...(setting ? { setting } : {}),
          ...(toxicityModel ? { toxicityModel } : {}),
        });
        result = scores.map((/** @type {any} */ s) => ({
          perspective: s.perspective,
          ...(s.variant ? { variant: s.variant } : {}),
          mode: s.mode,
          score: s.score,
          refusal_rate: s.refusalRate,
          n: s.n,
          ...(s.scorer ? { scorer: s.scorer } : {}),
          ...(s.decodingTrust ? { decodingtrust: s.decodingTrust } : {}),
          breakdown: s.breakdown,
          ...(s.notes?.length ? { notes: s.notes } : {}),
        }));
        if (!values.json) {
          for (const r of result) process.stdout.write(scoreTable(r));
          return;
        }
        break;
      }
      case 'compress': {
        const report = await app.call('compress', { source, request });
        const out = resolve(/** @type {string} */ (values.out));
        await exportVariant(app, report.key, out);
        if (!values.json) {
          process.stdout.write(
            `${report.label}\n${report.calibration.samples} × ${report.calibration.seqLen} tokens (${report.calibration.source}); kernels ${report.kernels}${report.adapter ? ` (${report.adapter})` : ''}; forward ${report.forward}\n`,
          );
          process.stdout.write('layer linear      shape        rel. error  zeros  format       bytes dense → stored\n');
          for (const l of report.linears)
            process.stdout.write(
              `${String(l.layer).padStart(5)} ${l.linear.padEnd(11)} ${`${l.shape[0]}×${l.shape[1]}`.padEnd(12)} ${l.error.toExponential(3).padStart(10)} ${(100 * l.zeros).toFixed(1).padStart(5)}% ${l.format.padEnd(12)} ${l.denseBytes} → ${l.packedBytes ?? l.denseBytes}\n`,
            );
          process.stdout.write(
            `mean error ${report.summary.meanError.toExponential(3)}; bytes ${report.bytes.before} → ${report.bytes.after} (${report.graph.linear}); damping retries ${report.summary.dampRetries}; ${(report.timings.totalMs / 1000).toFixed(1)} s\nwrote ${out}\n`,
          );
          return;
        }
        result = report;
        break;
      }
      case 'kl': {
        const text = values['text-file'] ? readFileSync(values['text-file'], 'utf8') : values.text;
        if (text === undefined) fail('kl needs --text TEXT or --text-file F');
        result = await app.call('kl', { source, variant: variantSource, device, text });
        break;
      }
      case 'bench': {
        if (positionals[1] === 'compress') {
          const methods = values.methods
            ?.split(',')
            .map((m) => m.trim())
            .filter(Boolean);
          const kernels = values.kernels
            ?.split(',')
            .map((m) => m.trim())
            .filter(Boolean);
          const r = await app.call('benchCompress', {
            layers: optionalInt('layers') ?? 30,
            ...(optionalInt('samples') !== undefined ? { samples: optionalInt('samples') } : {}),
            ...(optionalInt('seq-len') !== undefined ? { seqLen: optionalInt('seq-len') } : {}),
            ...(methods ? { methods } : {}),
            ...(kernels ? { kernels } : {}),
            ...(values.forward ? { forward: values.forward } : {}),
          });
          if (!values.json) {
            process.stdout.write(`${r.model}; adapter: ${r.adapter ?? 'none'}; calibration ${r.samples} × ${r.seqLen} tokens\n`);
            const fp = Object.entries(r.forwardPass).map(([k, ms]) => `${k} ${Number(ms).toFixed(0)} ms`);
            process.stdout.write(`one calibration pass of layer 0: ${fp.join(', ')} (ORT: session creation included)\n`);
            process.stdout.write('method     settings             kernels     s/layer   end to end s   est. 30 layers s   TS/GPU\n');
            for (const row of r.rows) {
              const ratio = row.kernels === 'webgpu' ? r.ratios[row.method] : undefined;
              process.stdout.write(
                `${row.method.padEnd(10)} ${row.settings.padEnd(20)} ${row.kernels.padEnd(10)} ${(row.msPerLayer / 1000).toFixed(2).padStart(8)} ${(row.totalMs / 1000).toFixed(2).padStart(14)} ${(row.estimatedFullMs / 1000).toFixed(1).padStart(18)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(8)}\n`,
              );
            }
            return;
          }
          result = r;
          break;
        }
        if (positionals[1] !== 'decode')
          fail(
            'usage: ctlab bench decode [--layers N] [--json] | ctlab bench compress [--layers N] [--json] | ctlab bench scale [--models id,…] [--json]',
          );
        const r = await app.call('benchDecode', { layers: Number(values.layers ?? '4') });
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
    lines.close();
    await app.close();
    await server.close();
  }
}

/** `--variant-dir ID=DIR`, each folder checked to exist. */
function variantDirArgs() {
  return (values['variant-dir'] ?? []).map((arg) => {
    const m = /^([^=]+)=(.+)$/.exec(arg) ?? fail(`--variant-dir takes ID=DIR (e.g. rtn4=out/rtn4), not ${arg}`);
    const dir = resolve(m[2]);
    if (!existsSync(join(dir, 'config.json'))) fail(`--variant-dir ${arg}: ${dir} holds no exported variant (no config.json)`);
    return { id: m[1].trim().toLowerCase(), dir };
  });
}

/**
 * The plan options shared by eval and plan. The plan id hashes the model and data as the user
 * named them (a folder by its absolute path), not as served, since each shard serves on its own port.
 * @param {{ dataUrls: string[] }} server
 * @param {unknown} toxicityModel
 * @param {{ kind: string, path?: string, url?: string, id?: string } | null} toxicitySpec
 * @param {{ kind: string, path?: string, url?: string, id?: string } | null} spec
 */
function evalRequest(server, toxicityModel, toxicitySpec, spec) {
  const mode = /** @type {string} */ (values.mode);
  if (!['generate', 'likelihood', 'both'].includes(mode)) fail(`--mode must be generate, likelihood or both, not ${mode}`);
  const perspectives =
    values.perspectives === 'all'
      ? 'all'
      : String(values.perspectives)
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
  const seeds = values.seeds === undefined ? undefined : values.seeds.split(',').map((x) => x.trim());
  if (seeds && (!seeds.length || seeds.some((x) => !/^\d+$/.test(x))))
    fail(`--seeds takes non-negative integers, e.g. 0,1,2, not ${values.seeds}`);
  /** @param {{ kind: string, path?: string, url?: string, id?: string } | null} m */
  const named = (m) => (!m ? undefined : (m.path ?? m.url ?? m.id));
  const dataDir = values['data-dir'];
  const toxicityName = named(toxicitySpec);
  return {
    perspectives,
    variants: values.variants,
    preset: values.preset,
    seed: Number(values.seed),
    ...(seeds ? { seeds: seeds.map(Number) } : {}),
    mode,
    ...(dataDir ? { dataUrl: server.dataUrls[0] } : {}),
    ...(toxicityModel ? { toxicityModel } : {}),
    names: {
      model: named(spec) ?? '',
      data: dataDir ? resolve(dataDir) : 'offline',
      ...(toxicityName ? { toxicityModel: toxicityName } : {}),
    },
    ...(values.shard !== undefined ? { shard: values.shard } : {}),
  };
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
