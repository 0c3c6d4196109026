// @ts-check
// `ctlab kl`: mean KL(dense ‖ variant) of next-token distributions over a text, with both perplexities.
import { readFileSync } from 'node:fs';
import { deviceArg, modelArg, usage } from '../lib/args.mjs';
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  if (!values.variant) usage('kl needs --variant V (a model folder, URL or hub id)');
  const variant = modelArg(values.variant);
  const device = deviceArg(values);
  const text = values['text-file'] ? readFileSync(values['text-file'], 'utf8') : values.text;
  if (text === undefined) usage('kl needs --text TEXT or --text-file F');
  return { model, variant, device, text: /** @type {string} */ (text), json: values.json === true, serve: { models: [model, variant] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.kl({ source: ctx.source(req.model), variant: ctx.source(req.variant), device: req.device, text: req.text });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  const out = {
    mean_kl: r.meanKl,
    ppl_dense: r.pplReference,
    ppl_variant: r.pplVariant,
    tokens: r.tokens,
    dense: r.dense,
    variant: r.variant,
  };
  return { stdout: jsonText(out, req.json) };
}
