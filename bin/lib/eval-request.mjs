// @ts-check
// The plan options `ctlab eval` and `ctlab plan` share.
import { resolve } from 'node:path';
import { modelArg, modelName, usage } from './args.mjs';

/**
 * The plan options as given. The plan id hashes the model and data as the user named them (a
 * folder by its absolute path), not as served, since each shard serves on its own port.
 * @param {import('./args.mjs').Values} values
 * @param {import('./args.mjs').ModelArg} model
 */
export function parsePlanOptions(values, model) {
  const toxicity = values['toxicity-model'] === undefined ? undefined : modelArg(values['toxicity-model']);
  const mode = /** @type {string} */ (values.mode);
  if (!['generate', 'likelihood', 'both'].includes(mode)) usage(`--mode must be generate, likelihood or both, not ${mode}`);
  const perspectives =
    values.perspectives === 'all'
      ? /** @type {const} */ ('all')
      : String(values.perspectives)
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
  const seeds =
    values.seeds === undefined
      ? undefined
      : String(values.seeds)
          .split(',')
          .map((x) => x.trim());
  if (seeds && (!seeds.length || seeds.some((x) => !/^\d+$/.test(x))))
    usage(`--seeds takes non-negative integers, e.g. 0,1,2, not ${values.seeds}`);
  /** @type {string | undefined} */
  const dataDir = values['data-dir'];
  const toxicityName = modelName(toxicity);
  return {
    toxicity,
    options: {
      perspectives: /** @type {import('../../src/state/automation').EvalRequest['perspectives']} */ (perspectives),
      variants: /** @type {string} */ (values.variants),
      preset: /** @type {string} */ (values.preset),
      seed: Number(values.seed),
      ...(seeds ? { seeds: seeds.map(Number) } : {}),
      mode: /** @type {import('../../src/state/automation').EvalRequest['mode']} */ (mode),
      hasData: Boolean(dataDir),
      names: {
        model: modelName(model) ?? '',
        data: dataDir ? resolve(dataDir) : 'offline',
        ...(toxicityName ? { toxicityModel: toxicityName } : {}),
      },
      .../** @type {{ shard?: string }} */ (values.shard !== undefined ? { shard: values.shard } : {}),
    },
  };
}

/**
 * The page's request from the parsed options, once the data and the classifier are served.
 * @param {import('./command.mjs').Context} ctx
 * @param {ReturnType<typeof parsePlanOptions>} plan
 * @returns {import('../../src/state/automation').EvalRequest}
 */
export function evalRequest(ctx, { toxicity, options }) {
  const { hasData, names, shard, ...rest } = options;
  return {
    ...rest,
    ...(hasData && ctx.dataUrl ? { dataUrl: ctx.dataUrl } : {}),
    ...(toxicity ? { toxicityModel: ctx.source(toxicity) } : {}),
    names,
    ...(shard !== undefined ? { shard } : {}),
  };
}
