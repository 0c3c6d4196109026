import { describe, expect, it } from 'vitest';
import { reconstructionError, reconstructionErrorFromHessian } from '../../../src/lib/compress/reference/error';
import { AbsMeanAccumulator, HessianAccumulator, WandaAccumulator } from '../../../src/lib/compress/reference/stats';
import { matrix, type Matrix } from '../../../src/lib/compress/reference/types';
import { correlatedX } from './fixtures';

function rowsOf(X: Matrix, from: number, to: number): Matrix {
  return matrix(to - from, X.cols, X.data.slice(from * X.cols, to * X.cols));
}

describe('calibration statistics', () => {
  const cols = 9;
  // Three sequences of 5 tokens: one sample of 1 sequence, then one of 2.
  const X = correlatedX(15, cols, 30, { dead: [4] });
  const a = rowsOf(X, 0, 5);
  const b = rowsOf(X, 5, 15);

  it('Hessian running mean equals (2/N)·ΣXᵀX over all sequences', () => {
    const acc = new HessianAccumulator(cols);
    acc.add(a, 1);
    acc.add(b, 2);
    expect(acc.n).toBe(3);
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let t = 0; t < 15; t++) s += X.data[t * cols + i] * X.data[t * cols + j];
        const want = (2 / 3) * s;
        expect(Math.abs(acc.H[i * cols + j] - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
      }
    }
    expect(acc.H[4 * cols + 4]).toBe(0);
  });

  it('Wanda norms: mean over sequences (not tokens) of Σ_tokens x²', () => {
    const acc = new WandaAccumulator(cols);
    acc.add(a, 1);
    acc.add(b, 2);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < 15; t++) s += X.data[t * cols + j] ** 2;
      expect(acc.s[j]).toBeCloseTo(s / 3, 4);
    }
  });

  it('AWQ mean |x| over all tokens', () => {
    const acc = new AbsMeanAccumulator(cols);
    acc.add(a);
    acc.add(b);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < 15; t++) s += Math.abs(X.data[t * cols + j]);
      expect(acc.mean[j]).toBeCloseTo(s / 15, 5);
    }
  });
});

describe('reconstructionError', () => {
  it('is ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² with X tokens × in, and agrees with the Hessian form', () => {
    const W = matrix(2, 2, Float32Array.from([1, 0, 0, 2]));
    const What = matrix(2, 2, Float32Array.from([1, 0, 0, 1]));
    const X = matrix(2, 2, Float32Array.from([1, 1, 0, 1]));
    // XWᵀ = [[1, 2], [0, 2]] (‖·‖² = 9); XŴᵀ = [[1, 1], [0, 1]]; difference² = 2.
    expect(reconstructionError(W, What, X)).toBeCloseTo(2 / 9, 12);
    const acc = new HessianAccumulator(2);
    acc.add(X);
    expect(reconstructionErrorFromHessian(W, What, acc.H)).toBeCloseTo(2 / 9, 6);
    expect(reconstructionError(W, W, X)).toBe(0);
  });
});
