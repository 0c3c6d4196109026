// @ts-check
// The plan options `ctlab eval` and `ctlab plan` share.
import { resolve } from 'node:path';
import { modelArg, modelName, optionalInt, usage } from './args.mjs';

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
  const calibration = calibrationOptions(values);
  return {
    toxicity,
    options: {
      perspectives: /** @type {import('../../src/state/automation').EvalRequest['perspectives']} */ (perspectives),
      variants: /** @type {string} */ (values.variants),
      preset: /** @type {string} */ (values.preset),
      seed: Number(values.seed),
      ...(seeds ? { seeds: seeds.map(Number) } : {}),
      mode: /** @type {import('../../src/state/automation').EvalRequest['mode']} */ (mode),
      ...(calibration ? { calibration } : {}),
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
 * The compressed variants' calibration as given; what is left out the page fills from its
 * defaults for `ctlab eval` (16 × 128 tokens the dense model writes). A text file has no
 * stable name for the plan id, so a run takes the built-in text, its own samples or a URL.
 * @param {import('./args.mjs').Values} values
 * @returns {import('../../src/state/automation').EvalRequest['calibration']}
 */
function calibrationOptions(values) {
  if (values['calib-file'] !== undefined)
    usage('eval and plan take --calib self|builtin or --calib-url U, not --calib-file (serve the file and give its URL)');
  if (values.calib !== undefined && values['calib-url'] !== undefined) usage('give one of --calib self|builtin and --calib-url U');
  if (values.calib !== undefined && values.calib !== 'self' && values.calib !== 'builtin')
    usage(`--calib must be self or builtin, not ${values.calib}`);
  const samples = optionalInt(values, 'samples');
  const seqLen = optionalInt(values, 'seq-len');
  if (samples === 0 || seqLen === 0) usage('--samples and --seq-len must be at least 1');
  /** @type {NonNullable<import('../../src/state/automation').EvalRequest['calibration']>} */
  const out = {
    ...(values['calib-url'] !== undefined ? { source: 'url', url: String(values['calib-url']) } : {}),
    ...(values.calib === 'self' || values.calib === 'builtin' ? { source: values.calib } : {}),
    ...(samples !== undefined ? { samples } : {}),
    ...(seqLen !== undefined ? { seqLen } : {}),
  };
  return Object.keys(out).length ? out : undefined;
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
