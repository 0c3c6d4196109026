// @ts-check
// `ctlab generate`: text from a prompt, streamed to stdout as it comes.
import { deviceArg, modelArg, positiveInt, usage } from '../lib/args.mjs';
import { compressRequest } from '../lib/compress-request.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  const model = modelArg(values.model);
  const device = deviceArg(values);
  if (values.prompt === undefined) usage('generate needs --prompt TEXT');
  const prompt = /** @type {string} */ (values.prompt);
  const request = {
    ...(values.chat ? { messages: [{ role: /** @type {const} */ ('user'), content: prompt }] } : { prompt }),
    maxNewTokens: positiveInt(values, 'max-new-tokens'),
    temperature: Number(values.temperature),
    seed: Number(values.seed),
    stop: /** @type {string[]} */ (values.stop ?? []),
  };
  // With --method, the model's variant of those settings generates: found in the cache when the
  // same settings and calibration were compressed before (by ctlab compress, say), else made first.
  const variant = values.method === undefined ? undefined : compressRequest(values, 'generate');
  return { model, device, request, variant, json: values.json === true, serve: { models: [model] } };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return ctx.page.generate({
    source: ctx.source(req.model),
    device: req.device,
    request: req.request,
    ...(req.variant ? { variant: req.variant } : {}),
  });
}

/**
 * @param {Awaited<ReturnType<typeof request>>} r
 * @param {ReturnType<typeof parse>} req
 * @param {Context} ctx
 */
export function print(r, req, ctx) {
  if (!req.json) {
    // Streamed pieces travel asynchronously from the page; print whatever had not arrived yet.
    const streamed = ctx.progress.closeStream();
    return {
      stdout: `${r.text.startsWith(streamed) ? r.text.slice(streamed.length) : ''}\n`,
      stderr: `${r.newIds.length} tokens · ${r.finish} · ${req.variant ? `${r.label} · ` : ''}${r.device}${r.adapter ? ` (${r.adapter})` : ''}\n`,
    };
  }
  const out = {
    ids: r.ids,
    prompt_ids: r.promptIds,
    text: r.text,
    finish: r.finish,
    device: r.device,
    adapter: r.adapter,
    ...(req.variant ? { model: r.label, model_key: r.key } : {}),
    tokens_per_second: r.tokensPerSecond,
  };
  return { stdout: `${JSON.stringify(out)}\n` };
}
