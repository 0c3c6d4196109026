// @ts-check
// `ctlab bench eval`: evaluation items/s one prompt at a time against batches, on stories260k
// (or --model) and a SmolLM2-135M-shaped random model, both modes, a preset's prompts (smoke by default).
import { batchSizeArg, deviceArg, modelArg, optionalInt, usage } from '../lib/args.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = values.model === undefined ? undefined : modelArg(values.model);
  const positive = (/** @type {string} */ name, /** @type {number} */ fallback) => {
    const n = optionalInt(values, name) ?? fallback;
    if (n < 1) usage(`--${name} must be a positive integer`);
    return n;
  };
  const batchSize = batchSizeArg(values);
  return {
    model,
    device: deviceArg(values),
    // 0 leaves the SmolLM2-shaped model out.
    layers: optionalInt(values, 'layers') ?? 4,
    preset: /** @type {string} */ (values.preset),
    // Absent: the bench's own default (about ten units a perspective).
    ...(values.items !== undefined ? { items: positive('items', 1) } : {}),
    maxNewTokens: positive('new-tokens', 32),
    ...(values.rounds !== undefined ? { rounds: positive('rounds', 2) } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    json: values.json === true,
    serve: { models: [model] },
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  const { model, json: _json, serve: _serve, ...opts } = req;
  return ctx.page.benchEval({ ...opts, ...(model ? { source: ctx.source(model) } : {}) });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  if (req.json) return { stdout: `${JSON.stringify(r)}\n` };
  let out = `${r.preset} preset prompts of at most ${r.context} tokens with the new ones, at most ${r.maxNewTokens} new tokens each\n`;
  out +=
    'model                                         device  mode        items  batch 1 items/s  batched items/s  batch  speedup  same\n';
  for (const row of r.rows) {
    out += `${row.model.slice(0, 45).padEnd(45)} ${row.device.padEnd(7)} ${row.mode.padEnd(10)} ${String(row.items).padStart(6)} ${row.single.toFixed(2).padStart(16)} ${row.batched.toFixed(2).padStart(16)} ${String(row.batchSize).padStart(6)} ${`${row.speedup.toFixed(2)}×`.padStart(8)} ${`${row.identical}/${row.items}`.padStart(5)}\n`;
  }
  out += "speed-up of each round (the table: each side's fastest round):\n";
  for (const row of r.rows) {
    const each = row.rounds.map((x) => `${(x.batched / x.single).toFixed(2)}×`).join(', ');
    out += `  ${row.model.slice(0, 45)} ${row.mode}: ${each}\n`;
  }
  out += 'prompt tokens one at a time → with every shared prefix run once (the prefix tree): the most prefix sharing saves\n';
  for (const row of r.rows) {
    out += `  ${row.model.slice(0, 45)} ${row.mode}: ${row.promptTokens} → ${row.prefixTreeTokens} (${(row.promptTokens / Math.max(1, row.prefixTreeTokens)).toFixed(2)}×)\n`;
  }
  return { stdout: out };
}
