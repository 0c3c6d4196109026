import { pruneByScores, wandaScores } from './prune';
import type { Matrix, PruneResult, Sparsity } from './types';

/**
 * Wanda: score |W_ij|·sqrt(s_j) with s from `WandaAccumulator`, prune per row (N:M or ratio).
 * No weight update.
 */
export function wanda(W: Matrix, s: Float32Array, sparsity: Sparsity): PruneResult {
  return pruneByScores(W, wandaScores(W, s), sparsity);
}
