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
 */
export function maxDistinctPerGroup(W: Matrix, groupSize: number, gIdx?: Int32Array): number {
  const { groupSize: gs, groups } = groupLayout(W.cols, groupSize);
  let worst = 0;
  const sets = Array.from({ length: groups }, () => new Set<number>());
  for (let r = 0; r < W.rows; r++) {
    for (const s of sets) s.clear();
    for (let j = 0; j < W.cols; j++) sets[gIdx ? gIdx[j] : Math.floor(j / gs)].add(W.data[r * W.cols + j]);
    for (const s of sets) worst = Math.max(worst, s.size);
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
