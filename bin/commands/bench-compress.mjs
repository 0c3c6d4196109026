// @ts-check
// `ctlab bench compress`: time per layer and end to end per method, WGSL kernels against TypeScript.
import { list, optionalInt } from '../lib/args.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const methods = values.methods === undefined ? undefined : list(values.methods);
  const kernels = values.kernels === undefined ? undefined : list(values.kernels);
  const samples = optionalInt(values, 'samples');
  const seqLen = optionalInt(values, 'seq-len');
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

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.benchCompress(/** @type {Parameters<Context['page']['benchCompress']>[0]} */ (req.options));
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r)}\n` };
  let out = `${r.model}; adapter: ${r.adapter ?? 'none'}; calibration ${r.samples} × ${r.seqLen} tokens\n`;
  const fp = Object.entries(r.forwardPass).map(([k, ms]) => `${k} ${Number(ms).toFixed(0)} ms`);
  out += `one calibration pass of layer 0: ${fp.join(', ')} (ORT: session creation included)\n`;
  out += 'method     settings             kernels     s/layer   end to end s   est. 30 layers s   TS/GPU\n';
  for (const row of r.rows) {
    const ratio = row.kernels === 'webgpu' ? r.ratios[row.method] : undefined;
    out += `${row.method.padEnd(10)} ${row.settings.padEnd(20)} ${row.kernels.padEnd(10)} ${(row.msPerLayer / 1000).toFixed(2).padStart(8)} ${(row.totalMs / 1000).toFixed(2).padStart(14)} ${(row.estimatedFullMs / 1000).toFixed(1).padStart(18)} ${ratio === undefined ? '' : ratio.toFixed(2).padStart(8)}\n`;
  }
  return { stdout: out };
}
