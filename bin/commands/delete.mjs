// @ts-check
// `ctlab delete`: a cached model and the variants compressed from it.
import { existsSync, statSync } from 'node:fs';
import { modelArg } from '../lib/args.mjs';
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const name = typeof values.model === 'string' ? cachedName(values.model) : undefined;
  if (name) return { name, json: values.json === true, serve: { models: [] } };
  const model = modelArg(values.model);
  return { model, json: values.json === true, serve: { models: [model] } };
}

/**
 * A model named as `ctlab models` lists it (its label, e.g. stories260k) rather than by folder,
 * URL or Hugging Face id: a word with no slash that is not a folder here.
 * @param {string} m
 */
function cachedName(m) {
  return !m.includes('/') && !/^[.~]/.test(m) && !(existsSync(m) && statSync(m).isDirectory()) ? m : undefined;
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.delete(req.name !== undefined ? { name: req.name } : { source: ctx.source(/** @type {any} */ (req.model)) });
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  return { stdout: jsonText(r, req.json) };
}
