import { gramInOrder } from './blocked';
import { f32, type Matrix } from './types';

/**
 * Per-linear calibration statistics, fp32, with the reference's running-mean updates. Each
 * `add` takes one calibration sample X: `tokens × in`, row-major, holding `sequences`
 * sequences (b in the spec). The same arithmetic order is used by the WGSL kernels in
 * `shaders/gemm.wgsl` and `shaders/stats.wgsl`, which these classes are the oracles of.
 */

function checkX(X: Matrix, cols: number): void {
  if (X.cols !== cols) throw new Error(`stats: X has ${X.cols} columns, expected ${cols}`);
}

/** Scale factors of one running-mean step: new = alpha·old + beta·batchSum. */
export function runningMeanFactors(n: number, b: number, numerator: number): { alpha: number; beta: number } {
  return { alpha: f32(n / (n + b)), beta: f32(numerator / (n + b)) };
}

/** H = (2/N) Σ_s X_sᵀX_s, updated as H ← H·n/(n+b); n += b; H += (2/n)·XᵀX. */
export class HessianAccumulator {
  readonly H: Float32Array;
  /** Sequences seen so far. */
  n = 0;

  constructor(readonly cols: number) {
    this.H = new Float32Array(cols * cols);
  }

  add(X: Matrix, sequences = 1): void {
    checkX(X, this.cols);
    const { alpha, beta } = runningMeanFactors(this.n, sequences, 2);
    this.n += sequences;
    const xtx = gramF32(X);
    const H = this.H;
    for (let i = 0; i < H.length; i++) H[i] = f32(f32(alpha * H[i]) + f32(beta * xtx[i]));
  }
}

/** XᵀX in fp32, each entry summed over tokens in ascending order (the kernel's order). */
export function gramF32(X: Matrix): Float32Array {
  return gramInOrder(X.data, X.rows, X.cols);
}

/** Wanda's `s_j`: running mean over sequences of Σ_tokens x_j² (s ← s·n/(n+b); n += b; s += ‖x_j‖²/n). */
export class WandaAccumulator {
  readonly s: Float32Array;
  n = 0;

  constructor(readonly cols: number) {
    this.s = new Float32Array(cols);
  }

  add(X: Matrix, sequences = 1): void {
    checkX(X, this.cols);
    const { alpha, beta } = runningMeanFactors(this.n, sequences, 1);
    this.n += sequences;
    const sq = columnSums(X, true);
    for (let j = 0; j < this.cols; j++) this.s[j] = f32(f32(alpha * this.s[j]) + f32(beta * sq[j]));
  }
}

/** AWQ's `x_mean_j`: mean over all tokens seen of |x_j|, kept as a running mean over tokens. */
export class AbsMeanAccumulator {
  readonly mean: Float32Array;
  tokens = 0;

  constructor(readonly cols: number) {
    this.mean = new Float32Array(cols);
  }

  add(X: Matrix): void {
    checkX(X, this.cols);
    const { alpha, beta } = runningMeanFactors(this.tokens, X.rows, 1);
    this.tokens += X.rows;
    const abs = columnSums(X, false);
    for (let j = 0; j < this.cols; j++) this.mean[j] = f32(f32(alpha * this.mean[j]) + f32(beta * abs[j]));
  }
}

/** Per-column Σ x² (`squares`) or Σ |x| over the rows of X, fp32, rows in ascending order. */
export function columnSums(X: Matrix, squares: boolean): Float32Array {
  const out = new Float32Array(X.cols);
  for (let t = 0; t < X.rows; t++) {
    const rt = t * X.cols;
    for (let j = 0; j < X.cols; j++) {
      const v = X.data[rt + j];
      out[j] += squares ? f32(v * v) : Math.abs(v);
    }
  }
  return out;
}
