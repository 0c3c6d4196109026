// @ts-check
// `ctlab plan`: the plan's id and work units, with a shard's share when asked.
import { modelArg } from '../lib/args.mjs';
import { evalRequest, parsePlanOptions } from '../lib/eval-request.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  const plan = parsePlanOptions(values, model);
  return {
    plan,
    shard: /** @type {string | undefined} */ (values.shard),
    json: values.json === true,
    serve: { models: [model, plan.toxicity] },
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.plan({ request: evalRequest(ctx, req.plan) });
}

/** @param {Awaited<ReturnType<typeof request>>} plan @param {ReturnType<typeof parse>} req */
export function print(plan, req) {
  if (req.json) return { stdout: `${JSON.stringify(plan)}\n` };
  const mine = 'mine' in plan ? new Set(plan.mine) : null;
  let out = `plan ${plan.id}: ${plan.units.length} units${mine ? `; shard ${req.shard} runs ${mine.size}` : ''}\n`;
  for (const u of plan.units) if (!mine || mine.has(u.id)) out += `${u.id}\n`;
  return { stdout: out };
}
