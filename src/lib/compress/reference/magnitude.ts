import { magnitudeScores, pruneByScores } from './prune';
import type { Matrix, PruneResult, Sparsity } from './types';

/**
 * Magnitude pruning: score |W|, per row N:M or an unstructured per-row ratio. (Wanda's code
 * uses one layer-wide threshold for unstructured magnitude; per-row keeps all methods on the
 * same comparison group, which is what the N:M variants the product offers need anyway.)
 */
export function magnitude(W: Matrix, sparsity: Sparsity): PruneResult {
  return pruneByScores(W, magnitudeScores(W), sparsity);
}
