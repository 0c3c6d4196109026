import { afterEach, describe, expect, it } from 'vitest';
import { cholesky, dampedInverseFactor, invertLower } from '../../../src/lib/compress/reference/linalg';
import { cpuSimdActive, setCpuSimd } from '../../../src/lib/compress/reference/simd';

/** A Hessian-like XᵀX/T + εI of order n from T seeded rows, with `dead` input channels left all zero. */
function hessian(n: number, seed: number, dead: number[] = []): Float64Array {
  const T = n + 7;
  const X = new Float64Array(T * n);
  let s = seed >>> 0;
  for (let i = 0; i < X.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    X[i] = dead.includes(i % n) ? 0 : s / 2 ** 31 - 1;
  }
  const H = new Float64Array(n * n);
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += (X[t * n + i] * X[t * n + j]) / T;
  for (let i = 0; i < n; i++) H[i * n + i] += dead.includes(i) ? 1 : 1e-3;
  return H;
}

function sameBits(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === null || b === null) return a === b;
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function both<T>(run: () => T): [T, T] {
  setCpuSimd(true);
  const simd = run();
  setCpuSimd(false);
  const ts = run();
  return [simd, ts];
}

describe('the fp64 factorisations on WebAssembly SIMD', () => {
  afterEach(() => {
    setCpuSimd(true);
  });

  it('are in use here', () => {
    expect(cpuSimdActive()).toBe(true);
  });

  // Even and odd orders, with and without a remainder of four-column tiles.
  it.each([32, 33, 37, 64, 98, 131])('give the TypeScript loops’ bits at order %i: Cholesky and the triangular inverse', (n) => {
    const H = hessian(n, n, [3, n - 2]);
    const [Ls, Lt] = both(() => cholesky(H, n));
    expect(Ls).not.toBeNull();
    expect(sameBits(Ls, Lt)).toBe(true);
    const [Xs, Xt] = both(() => invertLower(Lt!, n));
    expect(sameBits(Xs, Xt)).toBe(true);
    // L·L⁻¹ = I, so the comparison is of a real inverse.
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += Lt![i * n + k] * Xt[k * n + j];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-9);
  });

  it('refuse the same matrices: not positive definite, or NaN', () => {
    const n = 40;
    const H = hessian(n, 5);
    H[17 * n + 17] = -1;
    expect(both(() => cholesky(H, n))).toEqual([null, null]);
    const N = hessian(n, 6);
    N[30 * n + 2] = NaN;
    N[2 * n + 30] = NaN;
    expect(both(() => cholesky(N, n))).toEqual([null, null]);
  });

  it('give GPTQ’s damped factor the same bits through the whole prologue', () => {
    const n = 70;
    const H = Float32Array.from(hessian(n, 9, [11]));
    const [s, t] = both(() => dampedInverseFactor(H, n));
    expect(s.retries).toBe(t.retries);
    expect(Buffer.from(s.U.buffer).equals(Buffer.from(t.U.buffer))).toBe(true);
  });
});
