// @ts-check
// `ctlab bench decode`: prefill/decode tokens/s of fp32 and 4-bit graphs on WASM and WebGPU, or
// (--threads) of the WASM rows at several thread counts.
import { list, usage } from '../lib/args.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */
/** @typedef {import('../../src/lib/bench/decode').ThreadsSetting} ThreadsSetting */

/** @param {string | undefined} v @returns {ThreadsSetting[] | undefined} */
function threadsArg(v) {
  if (v === undefined) return undefined;
  const out = list(v).map((t) => {
    if (t === 'all') return /** @type {const} */ ('all');
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) usage(`--threads takes thread counts (1, 2, …) and all, not ${t}`);
    return n;
  });
  if (!out.length) usage('--threads needs at least one thread count');
  return out;
}

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  return {
    layers: Number(values.layers ?? '4'),
    threads: threadsArg(/** @type {string | undefined} */ (values.threads)),
    json: values.json === true,
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  if (req.threads) return { threads: await ctx.page.benchDecodeThreads({ layers: req.layers, threads: req.threads }) };
  return { devices: await ctx.page.benchDecode({ layers: req.layers }) };
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r.threads ?? r.devices)}\n` };
  if (r.threads) return { stdout: threadsTable(r.threads) };
  const d = /** @type {NonNullable<typeof r.devices>} */ (r.devices);
  let out = `${d.model}; adapter: ${d.adapter ?? 'none'}; prompt ${d.promptTokens} tokens, ${d.newTokens} new\n`;
  out += 'graph  device  prefill tok/s  decode tok/s  decode vs fp32/wasm  graph MB\n';
  for (const row of d.rows) {
    const ratio = d.ratios[`${row.graph}/${row.device}`];
    out += `${row.graph.padEnd(6)} ${row.device.padEnd(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(13)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${(ratio ?? NaN).toFixed(2).padStart(19)} ${(row.graphBytes / 1e6).toFixed(1).padStart(9)}\n`;
  }
  return { stdout: out };
}

/** @param {import('../../src/lib/bench/decode').ThreadsBenchResult} t */
function threadsTable(t) {
  const repeats = Object.entries(t.repeats)
    .map(([n, k]) => `${n} thread${n === '1' ? '' : 's'} × ${k}`)
    .join(', ');
  let out = `${t.model}; WASM; ${t.cores} cores; prompt ${t.promptTokens} tokens, ${t.newTokens} new; runs: ${repeats} (best kept)\n`;
  if (!t.isolated) out += 'not cross-origin isolated: every row ran on one thread\n';
  out += 'graph  threads  prefill tok/s  decode tok/s  prefill speed-up  decode speed-up\n';
  for (const row of t.rows) {
    out += `${row.graph.padEnd(6)} ${String(row.threads).padStart(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(14)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${`${row.prefillSpeedup.toFixed(2)}×`.padStart(17)} ${`${row.decodeSpeedup.toFixed(2)}×`.padStart(16)}\n`;
  }
  return out;
}
