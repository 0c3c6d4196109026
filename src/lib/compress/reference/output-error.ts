import { linearF32 } from './block';
import type { Matrix } from './types';

/**
 * A compressed linear's relative output error ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² on inputs X, the figure the
 * engine reports for every linear: the register-blocked linear with double sums, on X·(W − Ŵ)ᵀ
 * and X·Wᵀ.
 */
export function relativeOutputError(W: Matrix, What: Matrix, X: Matrix): number {
  if (X.rows === 0) return NaN;
  const D = new Float32Array(W.data.length);
  for (let i = 0; i < D.length; i++) D[i] = W.data[i] - What.data[i];
  const yd = linearF32(X.data, D, X.rows, W.cols, W.rows);
  const y = linearF32(X.data, W.data, X.rows, W.cols, W.rows);
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num += yd[i] * yd[i];
    den += y[i] * y[i];
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
}
