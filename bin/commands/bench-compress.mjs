// @ts-check
// `ctlab bench compress`: time per layer and end to end per method, WGSL kernels against TypeScript,
// in the page (headless Chromium) or in this process on Dawn (`--runtime node`).
import { list, optionalInt, usage } from '../lib/args.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */
/** @typedef {import('../lib/command.mjs').NodeContext} NodeContext */
/** @typedef {import('../../src/lib/bench/compress').CompressBenchResult & { runtime: string }} BenchResult */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const methods = values.methods === undefined ? undefined : list(values.methods);
  const kernels = values.kernels === undefined ? undefined : list(values.kernels);
  const samples = optionalInt(values, 'samples');
  const seqLen = optionalInt(values, 'seq-len');
  if (values.runtime === 'node' && values.forward !== undefined && values.forward !== 'typescript')
    usage(`--forward ${values.forward} needs onnxruntime-web, which runs only in the page; use --runtime browser`);
  const options = {
    layers: optionalInt(values, 'layers') ?? 30,
    ...(samples !== undefined ? { samples } : {}),
    ...(seqLen !== undefined ? { seqLen } : {}),
    ...(methods ? { methods } : {}),
    ...(kernels ? { kernels } : {}),
    ...(values.forward ? { forward: values.forward } : {}),
  };
  return { options, json: values.json === true };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req @returns {Promise<BenchResult>} */
export async function request(ctx, req) {
  const r = await ctx.page.benchCompress(/** @type {Parameters<Context['page']['benchCompress']>[0]} */ (req.options));
  return { ...r, runtime: 'browser (headless Chromium)' };
}

/** @param {NodeContext} ctx @param {ReturnType<typeof parse>} req @returns {Promise<BenchResult>} */
export async function node(ctx, req) {
  const r = await ctx.engine.benchCompress({
    .../** @type {Parameters<NodeContext['engine']['benchCompress']>[0]} */ (req.options),
    // ORT's WASM build does not load in the Node bundle: only the TypeScript block forward is timed.
    forwardPasses: ['typescript'],
    onStatus: (message) => ctx.progress.onProgress({ phase: 'status', message }),
  });
  return { ...r, runtime: ctx.engine.gpuRuntime() ?? 'node' };
}

/** @param {BenchResult} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r)}\n` };
  let out = `${r.model}; runtime: ${r.runtime}; adapter: ${r.adapter ?? 'none'}; calibration ${r.samples} × ${r.seqLen} tokens\n`;
  const fp = Object.entries(r.forwardPass).map(([k, ms]) => `${k} ${Number(ms).toFixed(0)} ms`);
  out += `one calibration pass of layer 0: ${fp.join(', ')}${'ort-wasm' in r.forwardPass ? ' (ORT: session creation included)' : ''}\n`;
  out += 'method     settings             kernels     s/layer   end to end s   est. 30 layers s   TS/GPU\n';
  for (const row of r.rows) {
    const ratio = row.kernels === 'webgpu' ? r.ratios[row.method] : undefined;
    out += `${row.method.padEnd(10)} ${row.settings.padEnd(20)} ${row.kernels.padEnd(10)} ${(row.msPerLayer / 1000).toFixed(2).padStart(8)} ${(row.totalMs / 1000).toFixed(2).padStart(14)} ${(row.estimatedFullMs / 1000).toFixed(1).padStart(18)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(8)}\n`;
  }
  return { stdout: out };
}
