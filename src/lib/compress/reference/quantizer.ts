import { simdQuantizeRtn } from './simd';
import { f32, matrix, type Matrix } from './types';

/**
 * The two quantizers of the spec. `gptq` is the GPTQ/RTN quantizer (range forced through 0,
 * symmetric or asymmetric); `awq` is llm-awq's `pseudo_quantize_tensor` (range not forced
 * through 0, scale floored at 1e-5, zero point clamped; `sym` there means "no zero point").
 */
export type QuantVariant = 'gptq' | 'awq';

export interface QuantConfig {
  bits: number;
  /** Columns per group; 0, negative, or ≥ cols means one group per row (per-channel). */
  groupSize?: number;
  sym: boolean;
  variant?: QuantVariant;
}

export interface GroupLayout {
  groupSize: number;
  groups: number;
}

/** Groups are contiguous column slices of every row; the last one may be short. */
export function groupLayout(cols: number, groupSize = 0): GroupLayout {
  const gs = groupSize > 0 && groupSize < cols ? groupSize : cols;
  return { groupSize: gs, groups: cols === 0 ? 0 : Math.ceil(cols / gs) };
}

/**
 * The integer range the rounded value is clamped to: `value = scale · (clamp(round(x/scale) + zero, lo, hi) − zero)`.
 * Codes stored for packing are `c − lo` (always unsigned) with zero point `zero − lo`.
 */
export interface QuantGrid {
  lo: number;
  hi: number;
  maxq: number;
}

export function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) throw new Error(`quantizer: bits must be an integer in 2..8, got ${bits}`);
}

export function quantGrid(cfg: QuantConfig): QuantGrid {
  checkBits(cfg.bits);
  const maxq = 2 ** cfg.bits - 1;
  if (cfg.variant === 'awq' && cfg.sym) return { lo: -(2 ** (cfg.bits - 1)), hi: 2 ** (cfg.bits - 1) - 1, maxq };
  return { lo: 0, hi: maxq, maxq };
}

/**
 * Round half to even, as torch.round and WGSL `round` do. `Math.round` rounds halves up, so
 * an exact .5 that landed on an odd integer is moved back down.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** llm-awq clamps the scale range at 1e-5 in fp32. */
export const AWQ_MIN_RANGE = f32(1e-5);

export interface GroupParams {
  scale: number;
  /** In the clamp domain of `quantGrid` (0 for AWQ without zero point). */
  zero: number;
}

/** Fits one group `x[start, end)` with fp32 arithmetic, exactly as the reference quantizers do. */
export function fitGroup(x: ArrayLike<number>, start: number, end: number, cfg: QuantConfig, grid = quantGrid(cfg)): GroupParams {
  const { maxq, hi } = grid;
  if (cfg.variant === 'awq') {
    if (cfg.sym) {
      let m = 0;
      for (let j = start; j < end; j++) m = Math.max(m, Math.abs(x[j]));
      return { scale: f32(Math.max(m, AWQ_MIN_RANGE) / hi), zero: 0 };
    }
    let mx = -Infinity;
    let mn = Infinity;
    for (let j = start; j < end; j++) {
      const v = x[j];
      if (v > mx) mx = v;
      if (v < mn) mn = v;
    }
    const scale = f32(Math.max(f32(mx - mn), AWQ_MIN_RANGE) / maxq);
    // `+ 0` turns the −0 of −round(0) into +0 so zero points compare equal to their codes.
    const zero = Math.min(maxq, Math.max(0, -roundHalfEven(f32(mn / scale)))) + 0;
    return { scale, zero };
  }
  let xmin = 0;
  let xmax = 0;
  for (let j = start; j < end; j++) {
    const v = x[j];
    if (v < xmin) xmin = v;
    if (v > xmax) xmax = v;
  }
  if (cfg.sym) {
    xmax = Math.max(-xmin, xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin === 0 && xmax === 0) {
    xmin = -1;
    xmax = 1;
  }
  const scale = f32(f32(xmax - xmin) / maxq);
  const zero = cfg.sym ? (maxq + 1) / 2 : roundHalfEven(f32(-xmin / scale)) + 0;
  return { scale, zero };
}

/** The clamped integer `c` of the quantizer (before subtracting `zero`). */
export function quantizeInt(x: number, scale: number, zero: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, roundHalfEven(f32(x / scale)) + zero));
}

export function quantizeValue(x: number, scale: number, zero: number, lo: number, hi: number): number {
  return f32(scale * (quantizeInt(x, scale, zero, lo, hi) - zero));
}

/**
 * A quantized weight. `weight` is the fake-quantized fp32 matrix; `codes` (row-major like W,
 * unsigned) with per-(row, group) `scales` and unsigned `zeros` give the same values as
 * `(code − zero) · scale`.
 */
export interface QuantizedMatrix {
  weight: Matrix;
  codes: Uint8Array;
  /** [rows · groups], row-major. */
  scales: Float32Array;
  /** [rows · groups], unsigned zero points in the code domain. */
  zeros: Uint8Array;
  bits: number;
  groupSize: number;
  groups: number;
  sym: boolean;
  variant: QuantVariant;
  /**
   * Group of each input column when groups are not contiguous (GPTQ with act_order and groups:
   * group g holds the g-th run of `groupSize` columns in activation order). Absent means
   * column j is in group ⌊j / groupSize⌋.
   */
  gIdx?: Int32Array;
}

/** The codes, scales and zero points of a quantized weight, as a quantizer produced them. */
export interface QuantizedParts {
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
  gIdx?: Int32Array;
}

/** Builds a `QuantizedMatrix` (every quantizer, TypeScript or GPU, returns one of these). */
export function quantizedMatrix(
  weight: Matrix,
  parts: QuantizedParts,
  cfg: Pick<QuantConfig, 'bits' | 'sym' | 'variant'>,
  layout: GroupLayout,
): QuantizedMatrix {
  return {
    weight,
    codes: parts.codes,
    scales: parts.scales,
    zeros: parts.zeros,
    bits: cfg.bits,
    groupSize: layout.groupSize,
    groups: layout.groups,
    sym: cfg.sym,
    variant: cfg.variant ?? 'gptq',
    ...(parts.gIdx ? { gIdx: parts.gIdx } : {}),
  };
}

/** Round-to-nearest quantization of every (row, group): the RTN baseline and AWQ's final step. */
export function quantizeRtn(W: Matrix, cfg: QuantConfig): QuantizedMatrix {
  const { rows, cols, data } = W;
  const { groupSize, groups } = groupLayout(cols, cfg.groupSize);
  const grid = quantGrid(cfg);
  const { lo, hi } = grid;
  const fast = simdQuantizeRtn(data, rows, cols, groupSize, cfg.bits, cfg.variant ?? 'gptq', cfg.sym, lo);
  if (fast) return quantizedMatrix(matrix(rows, cols, fast.weight), fast, cfg, { groupSize, groups });
  const out = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * groups);
  const zeros = new Uint8Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * groupSize;
      const end = r * cols + Math.min(cols, (g + 1) * groupSize);
      const { scale, zero } = fitGroup(data, start, end, cfg, grid);
      scales[r * groups + g] = scale;
      zeros[r * groups + g] = zero - lo;
      // quantizeInt and roundHalfEven written out: this loop is all of RTN's time, and the
      // Float32Array stores round as f32() would.
      for (let j = start; j < end; j++) {
        const q = f32(data[j] / scale);
        let k = Math.round(q);
        if (k - q === 0.5 && k % 2 !== 0) k -= 1;
        k += zero;
        const c = k < lo ? lo : k > hi ? hi : k;
        codes[j] = c - lo;
        out[j] = scale * (c - zero);
      }
    }
  }
  return quantizedMatrix(matrix(rows, cols, out), { codes, scales, zeros }, cfg, { groupSize, groups });
}

export function fakeQuantize(W: Matrix, cfg: QuantConfig): Matrix {
  return quantizeRtn(W, cfg).weight;
}

/** `(code − zero) · scale` for every entry; equals `q.weight` for results of this module. */
export function dequantize(q: QuantizedMatrix): Matrix {
  const { rows, cols } = q.weight;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const g = r * q.groups + (q.gIdx ? q.gIdx[j] : Math.floor(j / q.groupSize));
      out[r * cols + j] = f32(q.scales[g] * (q.codes[r * cols + j] - q.zeros[g]));
    }
  }
  return matrix(rows, cols, out);
}
