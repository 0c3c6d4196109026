// @ts-check
// `ctlab bench decode`: prefill/decode tokens/s of fp32 and 4-bit graphs on WASM and WebGPU.

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  return { layers: Number(values.layers ?? '4'), json: values.json === true };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.benchDecode({ layers: req.layers });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r)}\n` };
  let out = `${r.model}; adapter: ${r.adapter ?? 'none'}; prompt ${r.promptTokens} tokens, ${r.newTokens} new\n`;
  out += 'graph  device  prefill tok/s  decode tok/s  decode vs fp32/wasm  graph MB\n';
  for (const row of r.rows) {
    const ratio = r.ratios[`${row.graph}/${row.device}`];
    out += `${row.graph.padEnd(6)} ${row.device.padEnd(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(13)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${(ratio ?? NaN).toFixed(2).padStart(19)} ${(row.graphBytes / 1e6).toFixed(1).padStart(9)}\n`;
  }
  return { stdout: out };
}
