// @ts-check
// The compression options `ctlab compress` and `ctlab generate --method` share: settings, calibration
// and where the kernels run, sent to the page as given (the library checks methods, bits and
// sparsity; only the shape of the command line is checked here).
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { optionalInt, usage } from './args.mjs';

/** @typedef {import('../../src/lib/variants/compress-model').CompressCommand} CompressCommand */

/**
 * @param {import('./args.mjs').Values} values with `method` given
 * @param {string} command the command's name, for its messages
 * @returns {CompressCommand}
 */
export function compressRequest(values, command) {
  const method = /** @type {string} */ (values.method);
  if (values.sym && values.asym) usage('--sym and --asym exclude each other');
  /** @type {CompressCommand['settings']} */
  const settings = {
    method,
    ...(values.bits !== undefined ? { bits: values.bits } : {}),
    ...(values['group-size'] !== undefined ? { groupSize: values['group-size'] } : {}),
    ...(values.sym ? { sym: true } : values.asym ? { sym: false } : {}),
    ...(values['act-order'] ? { actOrder: true } : {}),
    ...(values.sparsity !== undefined ? { sparsity: values.sparsity } : {}),
  };
  const given = [values['calib-file'], values['calib-url'], values.calib].filter((v) => v !== undefined);
  if (given.length > 1) usage(`${command} takes one of --calib-file F, --calib-url U, --calib self|builtin`);
  /** @type {CompressCommand['calibration']} */
  let calibration;
  if (values['calib-file'] !== undefined) {
    const f = values['calib-file'];
    if (!existsSync(f)) usage(`no such file: ${f}`);
    calibration = { kind: 'text', text: readFileSync(f, 'utf8'), name: basename(f) };
  } else if (values['calib-url'] !== undefined) calibration = { kind: 'url', url: values['calib-url'] };
  // The built-in text needs no generation pass and gives every run the same calibration.
  else if (values.calib === undefined || values.calib === 'builtin') calibration = { kind: 'builtin' };
  else if (values.calib === 'self') calibration = { kind: 'self' };
  else return usage(`--calib must be self or builtin, not ${values.calib}`);
  const kernels = values.kernels ?? 'auto';
  if (!['auto', 'webgpu', 'typescript'].includes(kernels)) usage(`--kernels must be auto, webgpu or typescript, not ${kernels}`);
  const forward = values.forward ?? 'auto';
  if (!['auto', 'typescript', 'webgpu', 'ort-wasm', 'ort-webgpu'].includes(forward))
    usage(`--forward must be auto, typescript, webgpu, ort-wasm or ort-webgpu, not ${forward}`);
  const samples = optionalInt(values, 'samples');
  const seqLen = optionalInt(values, 'seq-len');
  /** @type {CompressCommand} */
  const request = {
    settings,
    calibration,
    ...(samples !== undefined ? { samples } : {}),
    ...(seqLen !== undefined ? { seqLen } : {}),
    seed: Number(values.seed),
    kernels,
    forward,
  };
  return request;
}
