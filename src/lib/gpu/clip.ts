import clipWgsl from '../../../shaders/awq-clip.wgsl?raw';
import gridWgsl from '../../../shaders/grid.wgsl?raw';
import quantizerWgsl from '../../../shaders/quantizer.wgsl?raw';
import { sampledTokenRows, type AwqClipOptions } from '../compress/reference/awq';
import { groupLayout, type QuantConfig } from '../compress/reference/quantizer';
import type { Matrix } from '../compress/reference/types';
import { readF32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning } from './limits';
import { defineParams } from './params';
import { QUANTIZER_FIELDS, quantizerValues } from './quant';
import { composeWgsl } from './shader';

/** `GROUP_CAP` of awq-clip.wgsl's `err_steps`. */
const PRIVATE_GROUP_CAP = 128;

export const CLIP_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  gs: 'u32',
  groups: 'u32',
  tokens: 'u32',
  steps: 'u32',
  ...GRID_FIELDS,
  ...QUANTIZER_FIELDS,
});

const CLIP_WGSL = composeWgsl(CLIP_PARAMS.wgsl, gridWgsl, quantizerWgsl, clipWgsl);

/**
 * AWQ's clip search on the GPU; the same result as `awqClipSearch` (its TypeScript oracle):
 * the chosen max |w| per (row, group), row-major [rows · groups]. Only the sampled tokens of X
 * are uploaded; W is split into row chunks under the binding limit (rows are independent).
 */
export async function awqClipGpu(
  device: GPUDevice,
  W: Matrix,
  X: Matrix,
  cfg: QuantConfig,
  opts: AwqClipOptions = {},
  tuning?: GpuTuning,
): Promise<Float32Array> {
  const { grid = 20, maxShrink = 0.5, sampleTokens = 512 } = opts;
  if (X.cols !== W.cols) throw new Error(`awq clip: X has ${X.cols} columns, W has ${W.cols}`);
  const { rows, cols } = W;
  const { groupSize, groups } = groupLayout(cols, cfg.groupSize);
  const toks = sampledTokenRows(X.rows, sampleTokens);
  const T = toks.length;
  const steps = Math.floor(maxShrink * grid);
  const best = new Float32Array(rows * groups);
  if (rows === 0 || groups === 0) return best;
  if (T === 0 || steps === 0) {
    // Nothing to compare against: keep every group's own max (the oracle does the same).
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < groups; g++) {
        let m = 0;
        for (let j = g * groupSize; j < Math.min(cols, (g + 1) * groupSize); j++) m = Math.max(m, Math.abs(W.data[r * cols + j]));
        best[r * groups + g] = m;
      }
    return best;
  }
  const limits = resolveLimits(device, tuning);
  const xs = new Float32Array(T * cols);
  toks.forEach((t, i) => xs.set(X.data.subarray(t * cols, (t + 1) * cols), i * cols));
  if (T * cols * 4 > limits.maxBindingBytes) throw new Error(`awq clip: ${T} sampled tokens of ${cols} columns exceed the binding limit`);
  const xb = uploadF32(device, xs);
  const fb = uploadF32(
    device,
    Float32Array.from({ length: steps }, (_, k) => Math.fround(1 - k / grid)),
  );
  // Per row: W, err per (group, step), and on the wide-group path org per (group, token) and a
  // quantized group per (group, step).
  const wide = groupSize > PRIVATE_GROUP_CAP;
  const perRow = Math.max(cols * 4, groups * steps * 4, wide ? groups * Math.max(T, steps * groupSize) * 4 : 0);
  for (const [r0, r1] of rowChunks(rows, perRow, limits.maxBindingBytes)) {
    const n = r1 - r0;
    const wb = uploadF32(device, W.data.subarray(r0 * cols, r1 * cols));
    const gstat = storageBuffer(device, n * groups * 12);
    const orgb = storageBuffer(device, wide ? n * groups * T * 4 : 4);
    const qwb = storageBuffer(device, wide ? n * groups * steps * groupSize * 4 : 4);
    const errb = storageBuffer(device, n * groups * steps * 4);
    const bestb = storageBuffer(device, n * groups * 4);
    const rec = new Recorder(device);
    const fixed = { rows: n, cols, gs: groupSize, groups, tokens: T, steps, ...quantizerValues(cfg) };
    const launch = (entry: string, items: number) =>
      rec.dispatchRange(
        CLIP_WGSL,
        CLIP_PARAMS,
        fixed,
        Math.ceil(items / 64),
        limits.maxWorkgroupsPerDim,
        [
          { kind: 'read', buffer: wb },
          { kind: 'read', buffer: xb },
          { kind: 'read', buffer: fb },
          { kind: 'readwrite', buffer: gstat },
          { kind: 'readwrite', buffer: orgb },
          { kind: 'readwrite', buffer: qwb },
          { kind: 'readwrite', buffer: errb },
          { kind: 'readwrite', buffer: bestb },
        ],
        entry,
      );
    launch('stats', n * groups);
    if (wide) {
      launch('org_main', n * groups * T);
      launch('err', n * groups * steps);
    } else launch('err_steps', n * groups);
    launch('pick', n * groups);
    rec.submit();
    best.set(await readF32(device, bestb, n * groups), r0 * groups);
    for (const b of [wb, gstat, orgb, qwb, errb, bestb]) b.destroy();
  }
  xb.destroy();
  fb.destroy();
  return best;
}
