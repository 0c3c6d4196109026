// @ts-check
// `ctlab bench compress`: time per layer and end to end per method, WGSL kernels against TypeScript,
// in the page (headless Chromium) or in this process on Dawn (`--runtime node`); then, per method,
// `ctlab compress` of a random SmolLM2-135M-shaped checkpoint of as many layers, for the export's
// MB/s and its share of the command's wall time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { list, optionalInt, usage } from '../lib/args.mjs';
import { compressRequest } from '../lib/compress-request.mjs';
import { ensureCheckpoints, SHAPES_DIR } from '../lib/random-checkpoints.mjs';
import * as compress from './compress.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */
/** @typedef {import('../lib/command.mjs').NodeContext} NodeContext */
/**
 * @typedef {{ method: string, settings: string, bytes: number, compressMs: number, exportMs: number,
 *   mbPerS: number, share: number, wallMs: number }} ExportRow
 * @typedef {import('../../src/lib/bench/compress').CompressBenchResult & { runtime: string, exports: ExportRow[] }} BenchResult
 */

const METHODS = ['rtn', 'gptq', 'awq', 'magnitude', 'wanda', 'sparsegpt'];

/** `ctlab compress`'s options for each method at the bench's settings (4-bit g128, 2:4). */
const COMPRESS_OPTIONS = {
  rtn: { bits: '4', 'group-size': '128' },
  gptq: { bits: '4', 'group-size': '128' },
  awq: { bits: '4', 'group-size': '128' },
  magnitude: { sparsity: '2:4' },
  wanda: { sparsity: '2:4' },
  sparsegpt: { sparsity: '2:4' },
};

const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M-Instruct';

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const methods = values.methods === undefined ? undefined : list(values.methods);
  const kernels = values.kernels === undefined ? undefined : list(values.kernels);
  const samples = optionalInt(values, 'samples');
  const seqLen = optionalInt(values, 'seq-len');
  if (values.runtime === 'node' && values.forward !== undefined && values.forward !== 'typescript')
    usage(`--forward ${values.forward} needs onnxruntime-web, which runs only in the page; use --runtime browser`);
  const layers = optionalInt(values, 'layers') ?? 30;
  const options = {
    layers,
    ...(samples !== undefined ? { samples } : {}),
    ...(seqLen !== undefined ? { seqLen } : {}),
    ...(methods ? { methods } : {}),
    ...(kernels ? { kernels } : {}),
    ...(values.forward ? { forward: values.forward } : {}),
  };
  const exported = values.export === 'none' ? [] : values.export === undefined ? (methods ?? METHODS) : list(values.export);
  const unknown = exported.filter((m) => !METHODS.includes(m));
  if (unknown.length) usage(`--export takes methods (${METHODS.join(', ')}) or none, not ${unknown.join(', ')}`);
  if (!exported.length) return { options, exports: [], json: values.json === true };
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const [{ dir }] = ensureCheckpoints(
    root,
    { models: [SMOLLM2], layers: layers === 30 ? undefined : layers, shapesDir: SHAPES_DIR, quiet: values.quiet === true },
    (l) => process.stderr.write(`ctlab: ${l}\n`),
  );
  /** @type {import('../lib/args.mjs').ModelArg} */
  const model = { kind: 'dir', path: dir };
  const requests = exported.map((method) => ({
    method,
    request: compressRequest(
      {
        method,
        .../** @type {Record<string, Record<string, string>>} */ (COMPRESS_OPTIONS)[method],
        calib: 'builtin',
        samples: String(samples ?? 4),
        'seq-len': String(seqLen ?? 64),
        seed: '0',
      },
      'bench compress',
    ),
  }));
  return { options, exports: requests, model, json: values.json === true, serve: { models: [model] } };
}

/**
 * Each method compressed and exported as `ctlab compress` does, into a folder removed afterwards.
 * @param {ReturnType<typeof parse>} req
 * @param {(r: ReturnType<typeof compress.parse>) => Promise<{ label: string, export: { bytes: number, ms: number, mbPerS: number, share: number, wallMs: number } }>} run
 * @returns {Promise<ExportRow[]>}
 */
async function exportRows(req, run) {
  /** @type {ExportRow[]} */
  const rows = [];
  for (const { method, request } of req.exports) {
    const out = mkdtempSync(join(tmpdir(), 'ctlab-bench-export-'));
    try {
      const model = /** @type {import('../lib/args.mjs').ModelArg} */ (req.model);
      const r = await run({ model, request, out, runtime: 'browser', json: false, serve: { models: [model] } });
      const e = r.export;
      rows.push({
        method,
        // The variant's label is the model's, then the settings.
        settings: r.label.split(' · ').at(-1) ?? r.label,
        bytes: e.bytes,
        compressMs: e.wallMs - e.ms,
        exportMs: e.ms,
        mbPerS: e.mbPerS,
        share: e.share,
        wallMs: e.wallMs,
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return rows;
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req @returns {Promise<BenchResult>} */
export async function request(ctx, req) {
  const r = await ctx.page.benchCompress(/** @type {Parameters<Context['page']['benchCompress']>[0]} */ (req.options));
  const exports = await exportRows(req, (c) => compress.request(ctx, c));
  return { ...r, runtime: 'browser (headless Chromium)', exports };
}

/** @param {NodeContext} ctx @param {ReturnType<typeof parse>} req @returns {Promise<BenchResult>} */
export async function node(ctx, req) {
  const r = await ctx.engine.benchCompress({
    .../** @type {Parameters<NodeContext['engine']['benchCompress']>[0]} */ (req.options),
    // ORT's WASM build does not load in the Node bundle: only the TypeScript block forward is timed.
    forwardPasses: ['typescript'],
    onStatus: (message) => ctx.progress.onProgress({ phase: 'status', message }),
  });
  const exports = await exportRows(req, (c) => compress.node(ctx, { ...c, runtime: 'node' }));
  return { ...r, runtime: ctx.engine.gpuRuntime() ?? 'node', exports };
}

/** @param {BenchResult} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r)}\n` };
  let out = `${r.model}; runtime: ${r.runtime}; adapter: ${r.adapter ?? 'none'}; CPU kernels: ${r.cpuThreads} thread${r.cpuThreads > 1 ? 's' : ''}; calibration ${r.samples} × ${r.seqLen} tokens\n`;
  const fp = Object.entries(r.forwardPass).map(([k, ms]) => `${k} ${Number(ms).toFixed(0)} ms`);
  out += `one calibration pass of layer 0: ${fp.join(', ')}${'ort-wasm' in r.forwardPass ? ' (ORT: session creation included)' : ''}\n`;
  out += 'method     settings             kernels     s/layer   end to end s   est. 30 layers s   TS/GPU\n';
  for (const row of r.rows) {
    const ratio = row.kernels === 'webgpu' ? r.ratios[row.method] : undefined;
    out += `${row.method.padEnd(10)} ${row.settings.padEnd(20)} ${row.kernels.padEnd(10)} ${(row.msPerLayer / 1000).toFixed(2).padStart(8)} ${(row.totalMs / 1000).toFixed(2).padStart(14)} ${(row.estimatedFullMs / 1000).toFixed(1).padStart(18)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(8)}\n`;
  }
  if (r.exports.length) {
    out += `\nctlab compress of a random ${r.layers}-layer SmolLM2-135M-shaped checkpoint (bf16) and its export, per method:\n`;
    out += 'method     settings             compress s   export MB   export s    MB/s   share of wall\n';
    for (const e of r.exports)
      out += `${e.method.padEnd(10)} ${e.settings.padEnd(20)} ${(e.compressMs / 1000).toFixed(1).padStart(11)} ${(e.bytes / 1e6).toFixed(1).padStart(11)} ${(e.exportMs / 1000).toFixed(2).padStart(10)} ${e.mbPerS.toFixed(0).padStart(7)} ${`${(100 * e.share).toFixed(1)} %`.padStart(15)}\n`;
  }
  return { stdout: out };
}
