import { f32, isNM, matrix, type Matrix, type PruneResult, type Sparsity } from './types';

/**
 * Mask selection shared by magnitude, Wanda and SparseGPT. Tie rule everywhere: among equal
 * scores the lower column index is kept, i.e. the higher index is pruned first. Masks use
 * 1 for a pruned entry.
 */

/** Largest M the kernels accept (they hold one group in registers). */
export const MAX_M = 32;

export function checkSparsity(s: Sparsity): void {
  if (isNM(s)) {
    if (!(Number.isInteger(s.n) && Number.isInteger(s.m) && s.m >= 1 && s.m <= MAX_M && s.n >= 0 && s.n <= s.m)) {
      throw new Error(`N:M sparsity needs integers 0 ≤ N ≤ M ≤ ${MAX_M}, got ${s.n}:${s.m}`);
    }
  } else if (!(s.ratio >= 0 && s.ratio <= 1)) {
    throw new Error(`sparsity ratio must be in [0, 1], got ${s.ratio}`);
  }
}

/**
 * Entries to prune in a group of `len` columns: N for a whole group; a short last group (when
 * M does not divide the width) prunes ⌊N·len/M⌋ so the layer still ends near N/M sparse.
 */
export function nmPruneCount(len: number, n: number, m: number): number {
  return len === m ? n : Math.floor((n * len) / m);
}

/** Whether `a` (score sa at index ia) is pruned before `b`: lower score first, then higher index. */
function before(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

/**
 * Marks in `mask[maskOff + j]` the `prune` entries of `scores[off .. off+len)` that go first.
 * A rank count per entry: O(len²), fine for M ≤ 32, and the same formulation as the kernel.
 */
export function selectLowest(scores: ArrayLike<number>, off: number, len: number, prune: number, mask: Uint8Array, maskOff: number): void {
  for (let j = 0; j < len; j++) {
    const sj = scores[off + j];
    let rank = 0;
    for (let k = 0; k < len; k++) if (k !== j && before(scores[off + k], k, sj, j)) rank++;
    mask[maskOff + j] = rank < prune ? 1 : 0;
  }
}

/** N:M along the input dimension of every row. */
export function nmMask(scores: Float32Array, rows: number, cols: number, n: number, m: number): Uint8Array {
  checkSparsity({ n, m });
  const mask = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j0 = 0; j0 < cols; j0 += m) {
      const len = Math.min(m, cols - j0);
      selectLowest(scores, r * cols + j0, len, nmPruneCount(len, n, m), mask, r * cols + j0);
    }
  }
  return mask;
}

/** Unstructured: the ⌊cols·ratio⌋ lowest-scoring entries of every row (Wanda's per-output comparison group). */
export function rowRatioMask(scores: Float32Array, rows: number, cols: number, ratio: number): Uint8Array {
  checkSparsity({ ratio });
  const k = Math.floor(cols * ratio);
  const mask = new Uint8Array(rows * cols);
  const idx = new Int32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let j = 0; j < cols; j++) idx[j] = j;
    idx.sort((a, b) => scores[base + a] - scores[base + b] || b - a);
    for (let t = 0; t < k; t++) mask[base + idx[t]] = 1;
  }
  return mask;
}

export function selectMask(scores: Float32Array, rows: number, cols: number, sparsity: Sparsity): Uint8Array {
  return isNM(sparsity) ? nmMask(scores, rows, cols, sparsity.n, sparsity.m) : rowRatioMask(scores, rows, cols, sparsity.ratio);
}

export function applyMask(W: Matrix, mask: Uint8Array): Matrix {
  const out = W.data.slice();
  for (let i = 0; i < out.length; i++) if (mask[i]) out[i] = 0;
  return matrix(W.rows, W.cols, out);
}

export function pruneByScores(W: Matrix, scores: Float32Array, sparsity: Sparsity): PruneResult {
  const mask = selectMask(scores, W.rows, W.cols, sparsity);
  return { weight: applyMask(W, mask), mask };
}

/** |W|. */
export function magnitudeScores(W: Matrix): Float32Array {
  return W.data.map(Math.abs);
}

/**
 * Wanda's |W_ij|·sqrt(s_j) ranked through its square W_ij²·s_j: the same order (both factors
 * are non-negative) without a square root, whose precision WGSL leaves to the GPU, so the GPU
 * and this oracle produce identical masks. Zero-norm columns score 0 and go first.
 */
export function wandaScores(W: Matrix, s: Float32Array): Float32Array {
  if (s.length !== W.cols) throw new Error(`wanda: ${s.length} channel norms for ${W.cols} columns`);
  const out = new Float32Array(W.data.length);
  for (let r = 0; r < W.rows; r++) {
    for (let j = 0; j < W.cols; j++) {
      const w = W.data[r * W.cols + j];
      out[r * W.cols + j] = f32(f32(w * w) * s[j]);
    }
  }
  return out;
}
