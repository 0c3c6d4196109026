import type { Matrix } from './types';

/**
 * Relative output error of a compressed linear on calibration inputs:
 * ‖X·Wᵀ − X·Ŵᵀ‖² / ‖X·Wᵀ‖² with X tokens × in (so W·x per token, as the layer computes it).
 * fp64 accumulation: this is a report metric, not something a kernel must reproduce.
 */
export function reconstructionError(W: Matrix, What: Matrix, X: Matrix): number {
  if (W.rows !== What.rows || W.cols !== What.cols) throw new Error('reconstructionError: W and Ŵ differ in shape');
  if (X.cols !== W.cols) throw new Error(`reconstructionError: X has ${X.cols} columns, W has ${W.cols}`);
  let num = 0;
  let den = 0;
  for (let t = 0; t < X.rows; t++) {
    const x = X.data.subarray(t * X.cols, (t + 1) * X.cols);
    for (let r = 0; r < W.rows; r++) {
      let y = 0;
      let yh = 0;
      const o = r * W.cols;
      for (let j = 0; j < W.cols; j++) {
        y += W.data[o + j] * x[j];
        yh += What.data[o + j] * x[j];
      }
      num += (y - yh) ** 2;
      den += y * y;
    }
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
}

/**
 * The same ratio from a Hessian instead of the inputs: Σ_r Δ_r H Δ_rᵀ / Σ_r W_r H W_rᵀ with
 * H ∝ XᵀX (the 2/N factor cancels), for reports after the activations are gone.
 */
export function reconstructionErrorFromHessian(W: Matrix, What: Matrix, H: Float32Array): number {
  const n = W.cols;
  if (H.length !== n * n) throw new Error(`reconstructionErrorFromHessian: H has ${H.length} values, expected ${n * n}`);
  let num = 0;
  let den = 0;
  const d = new Float64Array(n);
  for (let r = 0; r < W.rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) d[j] = W.data[o + j] - What.data[o + j];
    for (let i = 0; i < n; i++) {
      let hd = 0;
      let hw = 0;
      for (let j = 0; j < n; j++) {
        hd += H[i * n + j] * d[j];
        hw += H[i * n + j] * W.data[o + j];
      }
      num += d[i] * hd;
      den += W.data[o + i] * hw;
    }
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
}
