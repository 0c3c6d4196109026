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

/** @param {string | undefined} v @param {boolean} threads @returns {number[]} */
function prefillArg(v, threads) {
  // A DecodingTrust prompt is 200–1000 tokens; the decode rows' 64-token prompt says little about
  // how its prefill splits across threads, so the --threads table adds one of 256 unless told.
  if (v === undefined) return threads ? [256] : [];
  if (v === 'none') return [];
  const out = list(v).map((t) => {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) usage(`--prefill takes prompt lengths in tokens (256, 512, …) or none, not ${t}`);
    return n;
  });
  if (!out.length) usage('--prefill needs at least one prompt length');
  return out;
}

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const threads = threadsArg(/** @type {string | undefined} */ (values.threads));
  return {
    layers: Number(values.layers ?? '4'),
    threads,
    prefill: prefillArg(/** @type {string | undefined} */ (values.prefill), threads !== undefined),
    json: values.json === true,
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  if (req.threads)
    return { threads: await ctx.page.benchDecodeThreads({ layers: req.layers, threads: req.threads, prefillLengths: req.prefill }) };
  return { devices: await ctx.page.benchDecode({ layers: req.layers, prefillLengths: req.prefill }) };
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r.threads ?? r.devices)}\n` };
  if (r.threads) return { stdout: threadsTable(r.threads) };
  const d = /** @type {NonNullable<typeof r.devices>} */ (r.devices);
  let out = `${d.model}; adapter: ${d.adapter ?? 'none'}; prompt ${d.promptTokens} tokens, ${d.newTokens} new\n`;
  const lengths = (d.rows[0]?.prefillAt ?? []).map((p) => p.tokens);
  out += `graph  device  prefill tok/s  decode tok/s  decode vs fp32/wasm  graph MB${lengths.map((n) => `  prefill@${n} tok/s`).join('')}\n`;
  for (const row of d.rows) {
    const ratio = d.ratios[`${row.graph}/${row.device}`];
    const at = (row.prefillAt ?? []).map((p) => p.tokensPerSecond.toFixed(1).padStart(`  prefill@${p.tokens} tok/s`.length)).join('');
    out += `${row.graph.padEnd(6)} ${row.device.padEnd(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(13)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${(ratio ?? NaN).toFixed(2).padStart(19)} ${(row.graphBytes / 1e6).toFixed(1).padStart(9)}${at}\n`;
  }
  return { stdout: out };
}

/** @param {import('../../src/lib/bench/decode').ThreadsBenchResult} t */
function threadsTable(t) {
  const repeats = Object.entries(t.repeats)
    .map(([n, k]) => `${n} thread${n === '1' ? '' : 's'} × ${k}`)
    .join(', ');
  let out = `${t.model}; WASM; ${t.cores} cores; prompt ${t.promptTokens} tokens, ${t.newTokens} new (prefill@N: prefill alone of an N-token prompt); runs: ${repeats} (best kept)\n`;
  if (!t.isolated) out += 'not cross-origin isolated: every row ran on one thread\n';
  const lengths = (t.rows[0]?.prefillAt ?? []).map((p) => p.tokens);
  const heads = lengths.map((n) => [`  prefill@${n} tok/s`, `  speed-up`]);
  out += `graph  threads  prefill tok/s  decode tok/s  prefill speed-up  decode speed-up${heads.flat().join('')}\n`;
  for (const row of t.rows) {
    const at = row.prefillAt
      .map((p, i) => {
        const [h1, h2] = heads[i] ?? ['', ''];
        return `${p.tokensPerSecond.toFixed(1).padStart(h1.length)}${`${p.speedup.toFixed(2)}×`.padStart(h2.length)}`;
      })
      .join('');
    out += `${row.graph.padEnd(6)} ${String(row.threads).padStart(7)} ${row.prefillTokensPerSecond.toFixed(1).padStart(14)} ${row.decodeTokensPerSecond.toFixed(1).padStart(13)} ${`${row.prefillSpeedup.toFixed(2)}×`.padStart(17)} ${`${row.decodeSpeedup.toFixed(2)}×`.padStart(16)}${at}\n`;
  }
  return out;
}
