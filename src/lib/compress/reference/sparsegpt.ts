import { checkSparsity, nmPruneCount, selectLowest } from './prune';
import { prologue, resolveBlockSize, solveColumns, SUB_BLOCK, type SolverOptions, type SolverReport } from './solver';
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
  const groupScores = new Float32Array(nm ? nm.m : 0);
  let i1 = 0;
  let i2 = 0;
  // An N:M group is chosen on the row's updated values when its first column comes up, so it must not straddle sub-blocks.
  const sub = nm ? nm.m * Math.ceil(SUB_BLOCK / nm.m) : SUB_BLOCK;
  solveColumns(
    Wp,
    rows,
    cols,
    U,
    invd,
    B,
    sub,
    (r, i, w, at) => {
      const col = i1 + i;
      const m = r * cols + col;
      if (nm && i % nm.m === 0) {
        const len = Math.min(nm.m, i2 - col);
        for (let j = 0; j < len; j++) groupScores[j] = sparsegptScore(w[at + j], invd2[col + j]);
        selectLowest(groupScores, 0, len, nmPruneCount(len, nm.n, nm.m), mask, m);
      }
      return mask[m] ? 0 : w[at];
    },
    (start, end) => {
      i1 = start;
      i2 = end;
      if (nm) return;
      // The unstructured mask of the whole block, from its values before any in-block update.
      const count = end - start;
      const scores = new Float32Array(rows * count);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < count; i++) scores[r * count + i] = sparsegptScore(Wp[r * cols + start + i], invd2[start + i]);
      const thresh = blockThreshold(scores, (sparsity as { ratio: number }).ratio);
      for (let r = 0; r < rows; r++) for (let i = 0; i < count; i++) mask[r * cols + start + i] = scores[r * count + i] <= thresh ? 1 : 0;
    },
  );
  return { weight: matrix(rows, cols, Wp), mask, report: p.report };
}
