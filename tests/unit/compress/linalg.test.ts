import { describe, expect, it } from 'vitest';
import { cholesky, dampedInverseFactor, invertLower, spdInverse, upperCholeskyOfInverse } from '../../../src/lib/compress/reference/linalg';
import { normals } from './fixtures';

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, ta = false): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j] += (ta ? a[k * n + i] : a[i * n + k]) * b[k * n + j];
  return out;
}

function randomSpd(n: number, seed: number): Float64Array {
  const a = normals(n * n, seed);
  const h = matmul(a, a, n, true);
  for (let i = 0; i < n; i++) h[i * n + i] += 0.1;
  return h;
}

/** The textbook loops the tiled versions must reproduce bit for bit (same sums, same order). */
function plainCholesky(a: ArrayLike<number>, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = i === j ? Math.sqrt(s) : s / L[j * n + j];
    }
  return L;
}

function plainInvertLower(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    X[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * n + k] * X[k * n + j];
      X[i * n + j] = s / L[i * n + i];
    }
  }
  return X;
}

describe('Cholesky', () => {
  it('the four-wide cholesky and invertLower equal the textbook loops bit for bit', () => {
    for (const n of [1, 3, 4, 5, 8, 13, 30]) {
      const h = randomSpd(n, 40 + n);
      const L = cholesky(h, n)!;
      expect(Array.from(L)).toEqual(Array.from(plainCholesky(h, n)));
      expect(Array.from(invertLower(L, n))).toEqual(Array.from(plainInvertLower(L, n)));
    }
  });

  it('factors the textbook SPD matrix exactly', () => {
    const L = cholesky([4, 12, -16, 12, 37, -43, -16, -43, 98], 3)!;
    expect(Array.from(L)).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('returns null for singular and indefinite matrices', () => {
    expect(cholesky([1, 1, 1, 1], 2)).toBeNull();
    expect(cholesky([1, 2, 2, 1], 2)).toBeNull();
    expect(cholesky([0, 0, 0, 1], 2)).toBeNull();
  });

  it('inverse via Cholesky, and U with UᵀU = H⁻¹ by both routes', () => {
    const n = 12;
    const h = randomSpd(n, 20);
    const inv = spdInverse(h, n)!;
    const id = matmul(h, inv, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(id[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
    const U1 = upperCholeskyOfInverse(h, n, 'reference')!;
    const U2 = upperCholeskyOfInverse(h, n, 'reverse')!;
    const utu = matmul(U2, U2, n, true);
    for (let i = 0; i < n * n; i++) {
      expect(U2[i]).toBeCloseTo(U1[i], 10);
      expect(utu[i]).toBeCloseTo(inv[i], 10);
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(U2[i * n + j]).toBe(0);
  });
});

describe('damping and its retry ladder', () => {
  it('adds 0.01·mean(diag) and records no retry on a well-posed H', () => {
    const f = dampedInverseFactor(Float32Array.from([2, 0, 0, 4]), 2);
    expect(f.retries).toBe(0);
    expect(f.percdamp).toBe(0.01);
    expect(f.damp).toBe(Math.fround(0.03));
    expect(f.U[0]).toBeCloseTo(1 / Math.sqrt(2.03), 6);
  });

  it('a singular H with no initial damping is retried at 0.01', () => {
    const f = dampedInverseFactor(Float32Array.from([1, 1, 1, 1]), 2, { percdamp: 0 });
    expect(f.retries).toBe(1);
    expect(f.percdamp).toBe(0.01);
  });

  it('an H that 0.01 cannot rescue is retried with 0.02', () => {
    // Eigenvalues 2.015 and −0.015: needs more than 0.015·mean(diag).
    const f = dampedInverseFactor(Float32Array.from([1, 1.015, 1.015, 1]), 2);
    expect(f.retries).toBe(1);
    expect(f.percdamp).toBe(0.02);
    const g = dampedInverseFactor(Float32Array.from([1, 1.055, 1.055, 1]), 2);
    expect(g.retries).toBe(5);
    expect(g.percdamp).toBe(0.06);
  });

  it('gives up after maxRetries', () => {
    expect(() => dampedInverseFactor(Float32Array.from([1, 3, 3, 1]), 2, { maxRetries: 3 })).toThrow(/not positive definite/);
  });
});
