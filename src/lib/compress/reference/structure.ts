import { nmPruneCount } from './prune';
import { groupLayout } from './quantizer';
import { isNM, type Matrix, type Sparsity } from './types';

/**
 * Structural checks of a compressed weight, run by the driver on every linear it writes and
 * by the tests: N:M patterns along the input dimension, achieved unstructured sparsity, and the
 * number of distinct values per (row, quantization group).
 */

export function zeroFraction(W: Matrix): number {
  let z = 0;
  for (let i = 0; i < W.data.length; i++) if (W.data[i] === 0) z++;
  return W.data.length === 0 ? 0 : z / W.data.length;
}

/** The first (row, group) of M consecutive inputs without exactly N zeros (⌊N·len/M⌋ for a short last group), or null. */
export function nmViolation(W: Matrix, n: number, m: number): string | null {
  for (let r = 0; r < W.rows; r++) {
    for (let j0 = 0; j0 < W.cols; j0 += m) {
      const len = Math.min(m, W.cols - j0);
      let zeros = 0;
      for (let j = j0; j < j0 + len; j++) if (W.data[r * W.cols + j] === 0) zeros++;
      const want = nmPruneCount(len, n, m);
      if (zeros !== want) return `row ${r}, inputs ${j0}…${j0 + len - 1}: ${zeros} zeros, expected ${want}`;
    }
  }
  return null;
}

/**
 * Largest number of distinct values in any (row, group). Groups are contiguous slices of
 * `groupSize` columns (clipped to the width; 0 = whole rows) unless `gIdx` assigns them.
 * Values are told apart as a `Set` would (±0 one value, every NaN one value), by their fp32 bits
 * in an open-addressing table stamped per group: a `Set` per group cost about 40 ns a weight,
 * 155 ms of every quantized SmolLM2-135M-shaped layer.
 */
export function maxDistinctPerGroup(W: Matrix, groupSize: number, gIdx?: Int32Array): number {
  const { groupSize: gs, groups } = groupLayout(W.cols, groupSize);
  // Each group's columns, in order (contiguous groups need no list).
  let columns: Int32Array[] | null = null;
  if (gIdx) {
    const members = Array.from({ length: groups }, () => [] as number[]);
    for (let j = 0; j < W.cols; j++) members[gIdx[j]].push(j);
    columns = members.map((m) => Int32Array.from(m));
  }
  const widest = Math.max(1, columns ? Math.max(...columns.map((c) => c.length)) : gs);
  let size = 2;
  while (size < 2 * widest) size *= 2;
  const mask = size - 1;
  const keys = new Uint32Array(size);
  const stamps = new Uint32Array(size);
  const bits = new Uint32Array(W.data.buffer, W.data.byteOffset, W.data.length);
  let stamp = 0;
  let distinct = 0;
  const add = (b: number): void => {
    // -0 is 0, and every NaN one NaN, as in a Set.
    const key = b === 0x80000000 ? 0 : (b & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : b;
    let h = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    while (stamps[h] === stamp && keys[h] !== key) h = (h + 1) & mask;
    if (stamps[h] !== stamp) {
      stamps[h] = stamp;
      keys[h] = key;
      distinct++;
    }
  };
  let worst = 0;
  for (let r = 0; r < W.rows; r++) {
    const row = r * W.cols;
    for (let g = 0; g < groups; g++) {
      stamp++;
      distinct = 0;
      if (columns) for (const j of columns[g]) add(bits[row + j]);
      else for (let j = row + g * gs, end = row + Math.min(W.cols, (g + 1) * gs); j < end; j++) add(bits[j]);
      if (distinct > worst) worst = distinct;
    }
  }
  return worst;
}

export interface StructureReport {
  /** Fraction of exact zeros in the weight. */
  zeros: number;
  /** Quantized weights: the most distinct values found in one (row, group). */
  maxDistinct?: number;
  /** Null when the weight has the promised structure; otherwise what is wrong. */
  problem: string | null;
}

export type StructureSpec = { kind: 'quant'; bits: number; groupSize: number; gIdx?: Int32Array } | { kind: 'prune'; sparsity: Sparsity };

/** Checks a weight against what its compression promises. */
export function checkStructure(W: Matrix, spec: StructureSpec): StructureReport {
  const zeros = zeroFraction(W);
  if (spec.kind === 'quant') {
    const maxDistinct = maxDistinctPerGroup(W, spec.groupSize, spec.gIdx);
    const limit = 2 ** spec.bits;
    return {
      zeros,
      maxDistinct,
      problem: maxDistinct > limit ? `${maxDistinct} distinct values in one (row, group), more than 2^${spec.bits} = ${limit}` : null,
    };
  }
  const sp = spec.sparsity;
  if (isNM(sp)) return { zeros, problem: nmViolation(W, sp.n, sp.m) };
  // Per-row selection prunes ⌊cols·ratio⌋ of every row; SparseGPT's block threshold lands within a few entries of it.
  const tol = 1 / Math.max(1, W.cols) + 0.01;
  return {
    zeros,
    problem: zeros + tol < sp.ratio ? `only ${(zeros * 100).toFixed(2)}% zeros for a target of ${(sp.ratio * 100).toFixed(2)}%` : null,
  };
}
