// @ts-check
// `ctlab delete`: a cached model and the variants compressed from it.
import { modelArg } from '../lib/args.mjs';
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @typedef {{ models: import('../lib/args.mjs').ModelArg[] }} Serve */

/**
 * @param {import('../lib/args.mjs').Argv} argv
 * @returns {{ name: string, json: boolean, serve: Serve } | { model: import('../lib/args.mjs').ModelArg, json: boolean, serve: Serve }}
 */
export function parse({ values }) {
  const model = modelArg(values.model);
  const json = values.json === true;
  // A word with no slash is no Hugging Face id: it names a cached model as `ctlab models` lists it.
  if (model.kind === 'hub' && !model.id.includes('/')) return { name: model.id, json, serve: { models: [] } };
  return { model, json, serve: { models: [model] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.delete('name' in req ? { name: req.name } : { source: ctx.source(req.model) });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  return { stdout: jsonText(r, req.json) };
}
