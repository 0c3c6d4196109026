// @ts-check
// `ctlab delete`: a cached model and the variants compressed from it.
import { modelArg } from '../lib/args.mjs';
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  return { model, json: values.json === true, serve: { models: [model] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.delete({ source: ctx.source(req.model) });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  return { stdout: jsonText(r, req.json) };
}
