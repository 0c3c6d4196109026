// @ts-check
// `ctlab eval`: runs the plan like the page's Run button and writes the results file.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { batchSizeArg, deviceArg, modelArg, usage } from '../lib/args.mjs';
import { evalRequest, parsePlanOptions } from '../lib/eval-request.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  const device = deviceArg(values);
  if (!values.out) usage('eval needs --out results.json');
  const plan = parsePlanOptions(values, model);
  const batchSize = batchSizeArg(values);
  /** @type {{ kind: 'dir', path: string }[]} */
  const dirs = [];
  // `--variant-dir ID=DIR`: a variant exported by `ctlab compress`, each folder checked to exist.
  const variantDirs = /** @type {string[]} */ (values['variant-dir'] ?? []).map((arg) => {
    const m = /^([^=]+)=(.+)$/.exec(arg) ?? usage(`--variant-dir takes ID=DIR (e.g. rtn4=out/rtn4), not ${arg}`);
    const dir = resolve(m[2]);
    if (!existsSync(join(dir, 'config.json'))) usage(`--variant-dir ${arg}: ${dir} holds no exported variant (no config.json)`);
    dirs.push({ kind: 'dir', path: dir });
    return { id: m[1].trim().toLowerCase(), dir: dirs[dirs.length - 1] };
  });
  return {
    model,
    device,
    plan,
    variantDirs,
    batchSize,
    fresh: values.fresh === true,
    out: /** @type {string} */ (values.out),
    report: /** @type {string | undefined} */ (values.report),
    json: values.json === true,
    serve: { models: [model, plan.toxicity, ...dirs] },
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  const request = {
    ...evalRequest(ctx, req.plan),
    ...(req.variantDirs.length ? { variantSources: Object.fromEntries(req.variantDirs.map((v) => [v.id, ctx.source(v.dir)])) } : {}),
    ...(req.batchSize !== undefined ? { batchSize: req.batchSize } : {}),
    ...(req.fresh ? { fresh: true } : {}),
  };
  const doc = await ctx.page.eval({ source: ctx.source(req.model), device: req.device, request });
  writeFileSync(req.out, `${JSON.stringify(doc, null, 1)}\n`);
  if (req.report) writeFileSync(req.report, await ctx.page.report({ doc }));
  return doc;
}

/** @param {Awaited<ReturnType<typeof request>>} doc @param {ReturnType<typeof parse>} req */
export function print(doc, req) {
  const rows = doc.results.map((r) => ({
    variant: r.variant ?? 'dense',
    perspective: r.perspective,
    mode: r.mode,
    score: r.score,
    refusal_rate: r.refusalRate,
    n: r.n,
    ...(r.scorer ? { scorer: r.scorer } : {}),
  }));
  if (req.json) return { stdout: `${JSON.stringify(rows)}\n` };
  const lines = rows.map(
    (r) =>
      `${String(r.variant).padEnd(12)} ${r.perspective.padEnd(18)} ${r.mode.padEnd(10)} score ${Number(r.score).toFixed(1).padStart(5)}  refusal ${Number(r.refusal_rate).toFixed(1).padStart(5)}  n ${r.n}${r.scorer ? `  scorer ${r.scorer}` : ''}\n`,
  );
  return { stdout: lines.join(''), stderr: `wrote ${req.out}\n` };
}
