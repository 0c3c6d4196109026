// @ts-check
// `ctlab bench scale`: what the models people bring cost in the browser. Per model shape (random
// weights, real config and sharding) it drives the page as `ctlab download` and `ctlab generate`
// do, in a fresh browser profile, and reports download and graph build time, the peak memory of
// the browser's processes, and prefill/decode speed per device. Every device gets its own browser
// on the shape's profile: WASM memory never shrinks, so a second device in the same page would
// start above the first one's peak.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from './browser.mjs';
import { ensureCheckpoints } from './random-checkpoints.mjs';
import { memorySampler } from './proc-memory.mjs';
import { serveApp } from './server.mjs';

export const DEFAULT_SCALE_MODELS = [
  'HuggingFaceTB/SmolLM2-135M-Instruct',
  'Qwen/Qwen2.5-0.5B-Instruct',
  'Qwen/Qwen3-0.6B',
  'google/gemma-3-270m-it',
];

/**
 * @typedef {{ models: string[], layers?: number, devices: ('wasm' | 'webgpu')[], promptTokens: number,
 *   newTokens: number, shapesDir: string, port: number, quiet: boolean }} ScaleOptions
 * @typedef {{ device: string, adapter?: string | null, loadSeconds?: number, sessionSeconds?: number,
 *   promptTokens?: number, newTokens?: number, prefillTokensPerSecond?: number, decodeTokensPerSecond?: number,
 *   idleBytes?: number, peakBytes?: number, peakGeneratingBytes?: number, peakGeneratingRatio?: number,
 *   modelGeneratingRatio?: number, error?: string }} DeviceRow
 */

/**
 * A prompt of exactly `n` tokens for SmolLM2's tokenizer (which every random checkpoint carries
 * and which adds no BOS): common words of one token each. The page reports the real count.
 * @param {number} n
 */
export function syntheticPrompt(n) {
  const words = ['time', 'of', 'day', 'and', 'the', 'sun'];
  return ['The', ...Array.from({ length: n - 1 }, (_, i) => words[i % words.length])].join(' ');
}

/** @param {string} dir */
function weightBytes(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/**
 * Runs the bench; returns the report that `--json` prints.
 * @param {{ root: string, dist: string, opts: ScaleOptions, onProgress: (e: unknown) => void,
 *   log: (line: string) => void, cleanError: (err: unknown) => string }} args
 */
export async function benchScale({ root, dist, opts, onProgress, log, cleanError }) {
  const catalog = JSON.parse(readFileSync(join(root, 'src/lib/model/known-models.json'), 'utf8'));
  const known = new Set(catalog.models.map((/** @type {{ id: string }} */ m) => m.id));
  const unknown = opts.models.filter((id) => !known.has(id));
  if (unknown.length)
    throw new Error(
      `unknown model ${unknown.join(', ')}; the shapes are those of src/lib/model/known-models.json: ${[...known].join(', ')}`,
    );
  const shapes = ensureCheckpoints(root, opts, log);
  const server = await serveApp({ root, dist, modelDirs: shapes.map((s) => s.dir), port: opts.port });
  const request = {
    prompt: syntheticPrompt(opts.promptTokens),
    maxNewTokens: opts.newTokens,
    // Random weights may emit EOS at any step; the speed is measured over a fixed length.
    minNewTokens: opts.newTokens,
    temperature: 0,
  };
  const rows = [];
  let method = '';
  try {
    for (const [i, shape] of shapes.entries()) {
      const config = JSON.parse(readFileSync(join(shape.dir, 'config.json'), 'utf8'));
      /** @type {{ kind: 'url', url: string }} */
      const source = { kind: 'url', url: server.modelUrls[i] };
      /** @type {Record<string, any>} */
      const row = { model: shape.id, layers: config.num_hidden_layers, checkpointBytes: weightBytes(shape.dir) };
      /** @type {DeviceRow[]} */
      const devices = [];
      // A fresh profile: the download is real and no earlier model sits in the cache or in memory.
      const profile = mkdtempSync(join(tmpdir(), 'ctlab-scale-'));
      log(`\n== ${shape.id} (${row.layers} layers) ==`);
      try {
        for (const [d, device] of opts.devices.entries()) {
          /** @type {DeviceRow} */
          const dev = { device };
          devices.push(dev);
          if (row.error) {
            dev.error = 'skipped: the download failed';
            continue;
          }
          let app;
          try {
            app = await openApp({ origin: server.origin, profile, onProgress, onLog: (l) => opts.quiet || log(l) });
          } catch (err) {
            dev.error = `the browser did not start: ${cleanError(err)}`;
            continue;
          }
          const memory = memorySampler(profile);
          // The page open and no model loaded: what Chromium itself holds, the floor under every ratio.
          dev.idleBytes = memory.current();
          try {
            if (d === 0) {
              try {
                row.params = await app.page.params({ config });
                row.fp32Bytes = 4 * row.params;
                const t0 = performance.now();
                await app.page.download({ source });
                row.downloadSeconds = (performance.now() - t0) / 1000;
              } catch (err) {
                row.error = cleanError(err);
                dev.error = 'skipped: the download failed';
                continue;
              }
            }
            const load = await app.page.load({ source, device });
            dev.adapter = load.adapter;
            dev.loadSeconds = load.loadMs / 1000;
            dev.sessionSeconds = load.sessionMs / 1000;
            if (d === 0) {
              row.firstLoadSeconds = dev.loadSeconds;
              if (load.buildMs !== null) row.buildSeconds = load.buildMs / 1000;
            }
            log(`generating ${opts.newTokens} tokens after a ${opts.promptTokens}-token prompt on ${device}…`);
            const start = memory.mark();
            const gen = await app.page.generate({ source, device, request });
            dev.peakGeneratingBytes = memory.peakSince(start);
            dev.peakGeneratingRatio = dev.peakGeneratingBytes / row.fp32Bytes;
            dev.modelGeneratingRatio = (dev.peakGeneratingBytes - dev.idleBytes) / row.fp32Bytes;
            dev.promptTokens = gen.promptIds.length;
            dev.newTokens = gen.newIds.length;
            dev.prefillTokensPerSecond = (gen.promptIds.length * 1000) / gen.prefillMs;
            dev.decodeTokensPerSecond = gen.decodeMs > 0 ? ((gen.newIds.length - 1) * 1000) / gen.decodeMs : undefined;
          } catch (err) {
            dev.error = cleanError(err);
          } finally {
            dev.peakBytes = memory.peakSince(0);
            method = memory.stop().method || method;
            // The cache is deleted through the page as a user would; the profile goes with it below.
            if (d === opts.devices.length - 1) await app.page.delete({ source }).catch(() => undefined);
            await app.close().catch(() => undefined);
          }
          log(describeDevice(dev));
        }
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
      const gens = devices.map((x) => x.peakGeneratingBytes ?? 0);
      const peaks = devices.map((x) => x.peakBytes ?? 0);
      row.peakBytes = Math.max(0, ...peaks);
      if (gens.some((g) => g > 0)) {
        row.peakGeneratingBytes = Math.max(...gens);
        row.peakGeneratingRatio = row.peakGeneratingBytes / row.fp32Bytes;
      }
      row.devices = devices;
      rows.push(row);
    }
  } finally {
    await server.close();
  }
  return {
    benchmark: 'scale',
    weights: 'random (bf16 checkpoints of the published configs and hub sharding)',
    promptTokens: opts.promptTokens,
    newTokens: opts.newTokens,
    devices: opts.devices,
    memory: `${method === 'pss' ? 'PSS' : method === 'rss' ? 'RSS' : method} of every process of the browser, sampled every 250 ms`,
    shapes: rows,
  };
}

/** @param {DeviceRow} dev */
function describeDevice(dev) {
  if (dev.error) return `${dev.device}: ${dev.error}`;
  return `${dev.device}: prefill ${dev.prefillTokensPerSecond?.toFixed(1)} tok/s, decode ${dev.decodeTokensPerSecond?.toFixed(2)} tok/s, peak while generating ${mb(dev.peakGeneratingBytes)} MB`;
}

/** @param {number | undefined} bytes */
const mb = (bytes) => (bytes === undefined ? '–' : (bytes / 1e6).toFixed(0));
/** @param {number | undefined} x @param {number} digits */
const num = (x, digits) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/**
 * The human table: one line per shape and device; the shape's figures on its first line.
 * @param {Awaited<ReturnType<typeof benchScale>>} r
 */
export function scaleTable(r) {
  const head = [
    ['model', 36, 'l'],
    ['layers', 6],
    ['params', 7],
    ['fp32 MB', 8],
    ['download s', 10],
    ['build s', 8],
    ['device', 7, 'l'],
    ['load s', 7],
    ['prefill tok/s', 13],
    ['decode tok/s', 12],
    ['idle MB', 7],
    ['peak MB', 8],
    ['peak gen MB', 11],
    ['gen ÷ fp32', 10],
    ['(gen − idle) ÷ fp32', 19],
  ];
  /** @param {string[]} cells */
  const line = (cells) =>
    cells
      .map((c, k) => (head[k][2] === 'l' ? c.padEnd(/** @type {number} */ (head[k][1])) : c.padStart(/** @type {number} */ (head[k][1]))))
      .join('  ')
      .trimEnd();
  const out = [
    `random-weight checkpoints of real shapes; prompt ${r.promptTokens} tokens, ${r.newTokens} new (no early stop); memory: ${r.memory}`,
    "load s: cache to ready on that device in a new browser (the first device's includes the graph build); idle MB: that browser with the page open and no model; peak MB: its whole run (the first one downloads and builds)",
    line(head.map((h) => String(h[0]))),
  ];
  const errors = [];
  for (const s of r.shapes) {
    for (const [k, d] of s.devices.entries()) {
      const first = k === 0;
      out.push(
        line([
          first ? s.model : '',
          first ? String(s.layers) : '',
          first && s.params ? `${(s.params / 1e6).toFixed(0)}M` : '',
          first ? mb(s.fp32Bytes) : '',
          first ? num(s.downloadSeconds, 1) : '',
          first ? num(s.buildSeconds, 1) : '',
          d.device,
          num(d.loadSeconds, 1),
          num(d.prefillTokensPerSecond, 1),
          num(d.decodeTokensPerSecond, 2),
          mb(d.idleBytes),
          mb(d.peakBytes),
          mb(d.peakGeneratingBytes),
          num(d.peakGeneratingRatio, 2),
          num(d.modelGeneratingRatio, 2),
        ]),
      );
      if (d.error) errors.push(`${s.model} on ${d.device}: ${d.error}`);
    }
    if (s.error) errors.push(`${s.model}: ${s.error}`);
  }
  if (errors.length) out.push('', 'errors:', ...errors.map((e) => `  ${e}`));
  return `${out.join('\n')}\n`;
}
