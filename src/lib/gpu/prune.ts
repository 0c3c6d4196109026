import nmWgsl from '../../../shaders/nm.wgsl?raw';
import rowselectWgsl from '../../../shaders/rowselect.wgsl?raw';
import { checkSparsity } from '../compress/reference/prune';
import { isNM, matrix, type Matrix, type PruneResult, type Sparsity } from '../compress/reference/types';
import { readF32, readU32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { grids, resolveLimits, rowChunks, Uniforms, type GpuTuning } from './limits';
import { scratch } from './scratch';

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

function bindings(rec: Recorder, l: MaskLaunch, params: ArrayBuffer) {
  return [
    { kind: 'uniform' as const, data: params },
    { kind: 'readwrite' as const, buffer: l.w },
    { kind: 'read' as const, buffer: l.s ?? scratch(rec.device, 0) },
    { kind: 'readwrite' as const, buffer: l.mask },
  ];
}

/** N:M selection + application, one invocation per (row, group). */
export function encodeNM(rec: Recorder, l: MaskLaunch, n: number, m: number, maxDim: number): void {
  const ngroups = Math.ceil(l.cols / m);
  for (const g of grids(Math.ceil((l.rows * ngroups) / 64), maxDim)) {
    const params = new Uniforms().u(l.rows).u(l.cols).u(n).u(m).u(l.mode).u(ngroups).u(g.base).u(g.x).build();
    rec.dispatch(nmWgsl, bindings(rec, l, params), [g.x, g.y]);
  }
}

/** Unstructured per-row selection of the k lowest scores, one workgroup per row. */
export function encodeRowSelect(rec: Recorder, l: MaskLaunch, k: number, maxDim: number): void {
  if (k <= 0) return;
  for (const g of grids(l.rows, maxDim)) {
    const params = new Uniforms().u(l.rows).u(l.cols).u(k).u(l.mode).u(g.base).u(g.x).build();
    rec.dispatch(rowselectWgsl, bindings(rec, l, params), [g.x, g.y]);
  }
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
