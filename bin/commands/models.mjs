// @ts-check
// `ctlab models`: the cached models.
import { jsonText } from '../lib/command.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  return { json: values.json === true };
}

/** @param {Context} ctx */
export function request(ctx) {
  return ctx.page.models();
}

/** @param {Awaited<ReturnType<typeof request>>} r @param {ReturnType<typeof parse>} req */
export function print(r, req) {
  return { stdout: jsonText(r, req.json) };
}
