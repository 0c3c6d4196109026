import gridWgsl from '../../../shaders/grid.wgsl?raw';
import nmRankWgsl from '../../../shaders/nm-rank.wgsl?raw';
import nmWgsl from '../../../shaders/nm.wgsl?raw';
import rowselectWgsl from '../../../shaders/rowselect.wgsl?raw';
import { checkSparsity } from '../compress/reference/prune';
import { isNM, matrix, type Matrix, type PruneResult, type Sparsity } from '../compress/reference/types';
import { readF32, readU32, Recorder, storageBuffer, uploadF32, type Binding } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning } from './limits';
import { defineParams } from './params';
import { scratch } from './scratch';
import { composeWgsl } from './shader';

/** Score of an entry: 0 = |w| (magnitude), 1 = w²·s_j (Wanda). */
export type ScoreMode = 0 | 1;

export interface MaskLaunch {
  /** Weights, pruned in place. */
  w: GPUBuffer;
  /** Per-column statistic for mode 1 (ignored for mode 0). */
  s: GPUBuffer | null;
  /** u32 per entry, 1 = pruned. */
  mask: GPUBuffer;
  rows: number;
  cols: number;
  mode: ScoreMode;
}

export const NM_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  n: 'u32',
  m: 'u32',
  mode: 'u32',
  ngroups: 'u32',
  ...GRID_FIELDS,
});

export const ROWSELECT_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  k: 'u32',
  mode: 'u32',
  ...GRID_FIELDS,
});

const NM_WGSL = composeWgsl(NM_PARAMS.wgsl, gridWgsl, nmRankWgsl, nmWgsl);
const ROWSELECT_WGSL = composeWgsl(ROWSELECT_PARAMS.wgsl, gridWgsl, rowselectWgsl);

function storage(rec: Recorder, l: MaskLaunch): Binding[] {
  return [
    { kind: 'readwrite', buffer: l.w },
    { kind: 'read', buffer: l.s ?? scratch(rec.device, 0) },
    { kind: 'readwrite', buffer: l.mask },
  ];
}

/** N:M selection + application, one invocation per (row, group). */
export function encodeNM(rec: Recorder, l: MaskLaunch, n: number, m: number, maxDim: number): void {
  const ngroups = Math.ceil(l.cols / m);
  const fixed = { rows: l.rows, cols: l.cols, n, m, mode: l.mode, ngroups };
  rec.dispatchRange(NM_WGSL, NM_PARAMS, fixed, Math.ceil((l.rows * ngroups) / 64), maxDim, storage(rec, l));
}

/** Unstructured per-row selection of the k lowest scores, one workgroup per row. */
export function encodeRowSelect(rec: Recorder, l: MaskLaunch, k: number, maxDim: number): void {
  if (k <= 0) return;
  const fixed = { rows: l.rows, cols: l.cols, k, mode: l.mode };
  rec.dispatchRange(ROWSELECT_WGSL, ROWSELECT_PARAMS, fixed, l.rows, maxDim, storage(rec, l));
}

async function pruneGpu(
  device: GPUDevice,
  W: Matrix,
  s: Float32Array | null,
  sparsity: Sparsity,
  tuning?: GpuTuning,
): Promise<PruneResult> {
  checkSparsity(sparsity);
  const { rows, cols } = W;
  const limits = resolveLimits(device, tuning);
  const weight = new Float32Array(rows * cols);
  const mask = new Uint8Array(rows * cols);
  const sb = s ? uploadF32(device, s) : null;
  for (const [r0, r1] of rowChunks(rows, cols * 4, limits.maxBindingBytes)) {
    const n = r1 - r0;
    const l: MaskLaunch = {
      w: uploadF32(device, W.data.subarray(r0 * cols, r1 * cols)),
      s: sb,
      mask: storageBuffer(device, n * cols * 4),
      rows: n,
      cols,
      mode: s ? 1 : 0,
    };
    const rec = new Recorder(device);
    if (isNM(sparsity)) encodeNM(rec, l, sparsity.n, sparsity.m, limits.maxWorkgroupsPerDim);
    else encodeRowSelect(rec, l, Math.floor(cols * sparsity.ratio), limits.maxWorkgroupsPerDim);
    rec.submit();
    weight.set(await readF32(device, l.w, n * cols), r0 * cols);
    mask.set(await readU32(device, l.mask, n * cols), r0 * cols);
    l.w.destroy();
    l.mask.destroy();
  }
  sb?.destroy();
  return { weight: matrix(rows, cols, weight), mask };
}

/** Magnitude pruning on the GPU; same result as `magnitude`. */
export function magnitudeGpu(device: GPUDevice, W: Matrix, sparsity: Sparsity, tuning?: GpuTuning): Promise<PruneResult> {
  return pruneGpu(device, W, null, sparsity, tuning);
}

/** Wanda on the GPU (s from the stats kernel or `WandaAccumulator`); same result as `wanda`. */
export function wandaGpu(device: GPUDevice, W: Matrix, s: Float32Array, sparsity: Sparsity, tuning?: GpuTuning): Promise<PruneResult> {
  if (s.length !== W.cols) throw new Error(`wanda: ${s.length} channel norms for ${W.cols} columns`);
  return pruneGpu(device, W, s, sparsity, tuning);
}
