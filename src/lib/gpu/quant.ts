import gridWgsl from '../../../shaders/grid.wgsl?raw';
import quantWgsl from '../../../shaders/quant.wgsl?raw';
import quantizerWgsl from '../../../shaders/quantizer.wgsl?raw';
import { groupLayout, quantGrid, quantizedMatrix, type QuantConfig, type QuantizedMatrix } from '../compress/reference/quantizer';
import { matrix, type Matrix } from '../compress/reference/types';
import { readF32, readU32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning } from './limits';
import { defineParams } from './params';
import { scratch } from './scratch';
import { composeWgsl } from './shader';

/** The uniforms `quant_fit` and `quant_int` of quantizer.wgsl read, in every kernel that fits groups. */
export const QUANTIZER_FIELDS = { variant: 'u32', sym: 'u32', maxq: 'f32', lo: 'f32', hi: 'f32' } as const;

export function quantizerValues(cfg: QuantConfig): { variant: number; sym: number; maxq: number; lo: number; hi: number } {
  const { lo, hi, maxq } = quantGrid(cfg);
  return { variant: cfg.variant === 'awq' ? 1 : 0, sym: cfg.sym ? 1 : 0, maxq, lo, hi };
}

export const QUANT_PARAMS = defineParams({
  rows: 'u32',
  cols: 'u32',
  gs: 'u32',
  groups: 'u32',
  g0: 'u32',
  gcount: 'u32',
  ...GRID_FIELDS,
  ...QUANTIZER_FIELDS,
});

const QUANT_WGSL = composeWgsl(QUANT_PARAMS.wgsl, gridWgsl, quantizerWgsl, quantWgsl);

/** Buffers and shape of one row chunk for the quantizer kernels. */
export interface QuantLaunch {
  w: GPUBuffer;
  /** Interleaved (scale, zero) per (row, group): [rows · groups · 2] f32. */
  qp: GPUBuffer;
  rows: number;
  cols: number;
  groupSize: number;
  groups: number;
  cfg: QuantConfig;
}

/** One launch of quant.wgsl over groups g0 .. g0+gcount of every row. */
function encodeQuant(
  rec: Recorder,
  l: QuantLaunch,
  entry: 'fit' | 'apply',
  g0: number,
  gcount: number,
  outw: GPUBuffer,
  codes: GPUBuffer,
  maxDim: number,
) {
  const fixed = { rows: l.rows, cols: l.cols, gs: l.groupSize, groups: l.groups, g0, gcount, ...quantizerValues(l.cfg) };
  rec.dispatchRange(
    QUANT_WGSL,
    QUANT_PARAMS,
    fixed,
    Math.ceil((l.rows * gcount) / 64),
    maxDim,
    [
      { kind: 'read', buffer: l.w },
      { kind: 'readwrite', buffer: l.qp },
      { kind: 'readwrite', buffer: outw },
      { kind: 'readwrite', buffer: codes },
    ],
    entry,
  );
}

/** Fits (scale, zero) for groups g0 .. g0+gcount of every row from the current `w`. */
export function encodeQuantFit(rec: Recorder, l: QuantLaunch, g0: number, gcount: number, maxDim: number): void {
  if (gcount <= 0 || l.rows === 0) return;
  encodeQuant(rec, l, 'fit', g0, gcount, scratch(rec.device, 0), scratch(rec.device, 1), maxDim);
}

/** Fake-quantizes every group of `w` into `outw` and writes unsigned codes (u32 per entry). */
export function encodeQuantApply(rec: Recorder, l: QuantLaunch, outw: GPUBuffer, codes: GPUBuffer, maxDim: number): void {
  if (l.rows === 0) return;
  encodeQuant(rec, l, 'apply', 0, l.groups, outw, codes, maxDim);
}

/** Splits interleaved (scale, zero) pairs; zeros become unsigned zero points (zero − lo). */
export function splitParams(qp: Float32Array, lo: number): { scales: Float32Array; zeros: Uint8Array } {
  const n = qp.length / 2;
  const scales = new Float32Array(n);
  const zeros = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    scales[i] = qp[2 * i];
    zeros[i] = qp[2 * i + 1] - lo;
  }
  return { scales, zeros };
}

/** GPU round-to-nearest quantization (RTN, and AWQ's final step); same result as `quantizeRtn`. */
export async function rtnGpu(device: GPUDevice, W: Matrix, cfg: QuantConfig, tuning?: GpuTuning): Promise<QuantizedMatrix> {
  const { rows, cols } = W;
  const { groupSize, groups } = groupLayout(cols, cfg.groupSize);
  const { lo } = quantGrid(cfg);
  const limits = resolveLimits(device, tuning);
  const weight = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * groups);
  const zeros = new Uint8Array(rows * groups);
  for (const [r0, r1] of rowChunks(rows, Math.max(cols * 4, groups * 8), limits.maxBindingBytes)) {
    const n = r1 - r0;
    const l: QuantLaunch = {
      w: uploadF32(device, W.data.subarray(r0 * cols, r1 * cols)),
      qp: storageBuffer(device, n * groups * 8),
      rows: n,
      cols,
      groupSize,
      groups,
      cfg,
    };
    const outw = storageBuffer(device, n * cols * 4);
    const cb = storageBuffer(device, n * cols * 4);
    const rec = new Recorder(device);
    encodeQuantFit(rec, l, 0, groups, limits.maxWorkgroupsPerDim);
    encodeQuantApply(rec, l, outw, cb, limits.maxWorkgroupsPerDim);
    rec.submit();
    weight.set(await readF32(device, outw, n * cols), r0 * cols);
    codes.set(await readU32(device, cb, n * cols), r0 * cols);
    const p = splitParams(await readF32(device, l.qp, n * groups * 2), lo);
    scales.set(p.scales, r0 * groups);
    zeros.set(p.zeros, r0 * groups);
    for (const b of [l.w, l.qp, outw, cb]) b.destroy();
  }
  return quantizedMatrix(matrix(rows, cols, weight), { codes, scales, zeros }, cfg, { groupSize, groups });
}
