import { checkSparsity, nmPruneCount, selectLowest } from './prune';
import { lazyUpdate, prologue, commitColumn, resolveBlockSize, type SolverOptions, type SolverReport } from './solver';
import { f32, isNM, matrix, type Matrix, type PruneResult, type Sparsity } from './types';

export interface SparseGptOptions extends SolverOptions {
  sparsity: Sparsity;
}

export interface SparseGptResult extends PruneResult {
  report: SolverReport;
}

/** SparseGPT's pruning score w² / d², as w²·(1/d²) (see `Prologue.invd2`). */
export function sparsegptScore(w: number, invd2: number): number {
  return f32(f32(w * w) * invd2);
}

/**
 * The unstructured block mask of the reference: over the whole block (all rows × block
 * columns) take `thresh = sorted(score)[⌊numel·ratio⌋]` and prune every score ≤ thresh. The
 * reference's ratio 0 would still prune the block minimum; here ratio 0 prunes nothing.
 */
export function blockThreshold(scores: Float32Array, ratio: number): number {
  if (scores.length === 0 || ratio <= 0) return -Infinity;
  const sorted = scores.slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(scores.length * ratio))];
}

/**
 * SparseGPT (IST-DASLab `fasterprune`): blocked loop with lazy updates; N:M masks chosen on
 * the in-block-updated W at every M-th column, unstructured masks per block at its start.
 */
export function sparsegpt(W: Matrix, H: Float32Array, opts: SparseGptOptions): SparseGptResult {
  const { rows, cols } = W;
  const { sparsity } = opts;
  checkSparsity(sparsity);
  const B = resolveBlockSize(opts);
  const nm = isNM(sparsity) ? sparsity : null;
  if (nm && B % nm.m !== 0) throw new Error(`sparsegpt: blockSize ${B} must be a multiple of M = ${nm.m}`);
  const p = prologue(W, H, opts, false);
  const { W: Wp, U, invd, invd2 } = p;
  const mask = new Uint8Array(rows * cols);
  const Err = new Float32Array(rows * B);
  const w1 = new Float32Array(B);
  const m1 = new Uint8Array(B);
  const groupScores = new Float32Array(nm ? nm.m : 0);

  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    const block = { count, U, cols, i1 };
    let thresh = -Infinity;
    if (!nm) {
      const scores = new Float32Array(rows * count);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < count; i++) scores[r * count + i] = sparsegptScore(Wp[r * cols + i1 + i], invd2[i1 + i]);
      thresh = blockThreshold(scores, (sparsity as { ratio: number }).ratio);
    }
    for (let r = 0; r < rows; r++) {
      const row = r * cols;
      w1.set(Wp.subarray(row + i1, row + i2));
      if (!nm) for (let i = 0; i < count; i++) m1[i] = sparsegptScore(w1[i], invd2[i1 + i]) <= thresh ? 1 : 0;
      for (let i = 0; i < count; i++) {
        const col = i1 + i;
        if (nm && i % nm.m === 0) {
          const len = Math.min(nm.m, count - i);
          for (let j = 0; j < len; j++) groupScores[j] = sparsegptScore(w1[i + j], invd2[col + j]);
          selectLowest(groupScores, 0, len, nmPruneCount(len, nm.n, nm.m), m1, i);
        }
        mask[row + col] = m1[i];
        commitColumn(w1, i, m1[i] ? 0 : w1[i], invd[col], Err, r * B + i, block);
      }
      Wp.set(w1.subarray(0, count), row + i1);
    }
    lazyUpdate(Wp, rows, cols, Err, B, U, i1, i2);
  }
  return { weight: matrix(rows, cols, Wp), mask, report: p.report };
}
