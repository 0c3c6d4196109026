// @ts-check
// `ctlab ppl`: perplexity of a text.
import { readFileSync } from 'node:fs';
import { deviceArg, modelArg, usage } from '../lib/args.mjs';
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  const device = deviceArg(values);
  const text = values['text-file'] ? readFileSync(values['text-file'], 'utf8') : values.text;
  if (text === undefined) usage('ppl needs --text TEXT or --text-file F');
  return { model, device, text: /** @type {string} */ (text), json: values.json === true, serve: { models: [model] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.ppl({ source: ctx.source(req.model), device: req.device, text: req.text });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  const { meanNll, ppl, tokens, lastLogits, ...session } = r;
  const out = { mean_nll: meanNll, ppl, tokens, last_logits_first8: lastLogits.slice(0, 8), ...session };
  return { stdout: jsonText(out, req.json) };
}
