// @ts-check
// `ctlab bench scale`: load and speed per model shape, each in a fresh browser profile, so it opens
// its own browsers (bin/lib/bench-scale.mjs) instead of the one page of the other commands.
import { resolve } from 'node:path';
import { list, optionalInt, usage } from '../lib/args.mjs';
import { benchScale, DEFAULT_SCALE_MODELS, scaleTable } from '../lib/bench-scale.mjs';
import { cleanError } from '../lib/errors.mjs';
import { SHAPES_DIR } from '../lib/random-checkpoints.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

export const standalone = true;

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values }) {
  /** @param {'prompt-tokens' | 'new-tokens'} name @param {number} fallback @param {number} min */
  const count = (name, fallback, min) => {
    const v = values[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer of at least ${min}, not ${v}`);
    return n;
  };
  const models = values.models === undefined ? DEFAULT_SCALE_MODELS : list(values.models);
  if (!models.length) usage('--models needs at least one model id');
  const devices = values.devices === undefined ? ['wasm', 'webgpu'] : list(values.devices);
  const bad = devices.filter((d) => d !== 'wasm' && d !== 'webgpu');
  if (bad.length || !devices.length) usage(`--devices takes wasm and/or webgpu, not ${values.devices}`);
  const layers = optionalInt(values, 'layers');
  if (layers === 0) usage('--layers must be a positive integer');
  const opts = {
    models,
    ...(layers !== undefined ? { layers } : {}),
    devices: /** @type {('wasm' | 'webgpu')[]} */ (devices),
    promptTokens: count('prompt-tokens', 64, 1),
    // Decode speed is measured after the first token, so it needs a second one.
    newTokens: count('new-tokens', 16, 2),
    shapesDir: resolve(values['out-dir'] ?? SHAPES_DIR),
    port: Number(values.port),
    quiet: values.quiet === true,
  };
  return { opts, json: values.json === true };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export function request(ctx, req) {
  return benchScale({
    root: ctx.root,
    dist: ctx.dist,
    opts: req.opts,
    // Neither the gibberish of random weights nor a cached file's progress tells anyone anything here.
    onProgress: (/** @type {any} */ e) => (e?.phase === 'text' || e?.phase === 'cached' ? undefined : ctx.progress.onProgress(e)),
    log: (line) => req.opts.quiet || ctx.lines.note(line),
    cleanError,
  });
}

/** @param {Awaited<ReturnType<typeof request>>} report @param {ReturnType<typeof parse>} req */
export function print(report, req) {
  return { stdout: req.json ? `${JSON.stringify(report)}\n` : scaleTable(report) };
}
