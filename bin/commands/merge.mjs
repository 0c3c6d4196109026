// @ts-check
// `ctlab merge`: the shards' results files of one plan as the single run's file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { usage } from '../lib/args.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values, positionals }) {
  if (!values.out) usage('merge needs --out results.json');
  const names = positionals.slice(1);
  if (names.length === 0) usage("merge needs the shards' results files");
  const files = names.map((name) => {
    if (!existsSync(name)) usage(`no such file: ${name}`);
    try {
      return { name, doc: JSON.parse(readFileSync(name, 'utf8')) };
    } catch {
      return usage(`${name} is not JSON`);
    }
  });
  return {
    files,
    out: /** @type {string} */ (values.out),
    report: /** @type {string | undefined} */ (values.report),
    json: values.json === true,
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  const doc = await ctx.page.merge({ files: req.files });
  writeFileSync(req.out, `${JSON.stringify(doc, null, 1)}\n`);
  if (req.report) writeFileSync(req.report, await ctx.page.report({ doc }));
  return doc;
}

/** @param {Awaited<ReturnType<typeof request>>} doc @param {ReturnType<typeof parse>} req */
export function print(doc, req) {
  const plan = /** @type {NonNullable<typeof doc.plan>} */ (doc.plan);
  if (req.json)
    return {
      stdout: `${JSON.stringify({ plan: plan.id, files: req.files.length, units: plan.units.length, results: doc.results.length })}\n`,
    };
  return { stderr: `merged ${req.files.length} files of plan ${plan.id} (${plan.units.length} units); wrote ${req.out}\n` };
}
