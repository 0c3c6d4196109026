import { afterEach, describe, expect, it } from 'vitest';
import { linearF32, linearF32Sums } from '../../../src/lib/compress/reference/block';
import { cholesky, invertLower } from '../../../src/lib/compress/reference/linalg';
import { gramInOrder, subtractEachInOrder, subtractSumInOrder } from '../../../src/lib/compress/reference/blocked';
import { cpuSimdActive, setCpuSimd } from '../../../src/lib/compress/reference/simd';
import { simdHelperJobs, startWebSimdHelpers, stopSimdHelpers } from '../../../src/lib/compress/reference/simd-helpers';

/** Seeded values in [−1, 1): the kernels' operands. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The same call with the SIMD module and with the TypeScript tiles. */
function both<T>(run: () => T): [T, T] {
  setCpuSimd(true);
  const simd = run();
  setCpuSimd(false);
  const ts = run();
  return [simd, ts];
}

describe('WebAssembly SIMD kernels in the browser', () => {
  afterEach(() => {
    setCpuSimd(true);
  });

  it('instantiate in the page (its CSP allows WebAssembly) and are in use', () => {
    expect(cpuSimdActive()).toBe(true);
  });

  it('give the TypeScript tiles’ bits: the lazy update, the in-block update and XᵀX at GPTQ-like sizes', () => {
    const rows = 96;
    const width = 203;
    const K = 128;
    const A = values(rows * K, 1);
    const B = values(K * (width + 3), 2);
    const C0 = values(rows * (width + 1), 3);
    const [sumSimd, sumTs] = both(() => {
      const C = C0.slice();
      subtractSumInOrder(rows, width, K, A, 0, K, B, 3, width + 3, C, 1, width + 1);
      return C;
    });
    expect(sameBits(sumSimd, sumTs)).toBe(true);
    expect(sameBits(sumSimd, C0)).toBe(false);

    const [eachSimd, eachTs] = both(() => {
      const C = C0.slice();
      subtractEachInOrder(rows, width, 16, A, 5, K, B, 0, width + 3, C, 0, width + 1);
      return C;
    });
    expect(sameBits(eachSimd, eachTs)).toBe(true);

    const X = values(256 * 77, 4);
    const [gramSimd, gramTs] = both(() => gramInOrder(X, 256, 77));
    expect(sameBits(gramSimd, gramTs)).toBe(true);
  });

  it('give the TypeScript loops’ bits: the fp64 linear of the block forwards and the fp32 one of AWQ’s losses and clip search', () => {
    const x = values(64 * 96, 5);
    const w = values(67 * 96, 6);
    const [ySimd, yTs] = both(() => linearF32(x, w, 64, 96, 67));
    expect(sameBits(ySimd, yTs)).toBe(true);
    // AWQ's loss linear: fp32 sums in 4 × 8 tiles (67 outputs: a lone group and a partial one; 63 tokens: three single ones).
    const [y32Simd, y32Ts] = both(() => linearF32Sums(x, w, 63, 96, 67));
    expect(sameBits(y32Simd, y32Ts)).toBe(true);
  });

  it('give the TypeScript loops’ bits: the fp64 Cholesky factor and its inverse (GPTQ’s prologue), at an odd order', () => {
    const n = 75;
    const X = values(90 * n, 9);
    const H = new Float64Array(n * n);
    for (let t = 0; t < 90; t++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += X[t * n + i] * X[t * n + j];
    for (let i = 0; i < n; i++) H[i * n + i] += 0.01;
    const [Ls, Lt] = both(() => cholesky(H, n)!);
    const bits = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer));
    expect(bits(Ls)).toEqual(bits(Lt));
    const [Xs, Xt] = both(() => invertLower(Lt, n));
    expect(bits(Xs)).toEqual(bits(Xt));
    expect(Xt[n * n - 1]).toBeCloseTo(1 / Lt[n * n - 1], 12);
  });

  it('share a linear with helper threads (web Workers on shared memory) and give the single thread’s bits', async () => {
    // The test page is cross-origin isolated, as the app's servers make the page; two cores or more here.
    expect(crossOriginIsolated).toBe(true);
    const started = await startWebSimdHelpers({ crossOriginIsolated, navigator: { hardwareConcurrency: 2 } });
    try {
      expect(started).toBe(1);
      const [S, inF, outF] = [70, 160, 130];
      const x = values(S * inF, 21);
      const w = values(outF * inF, 22);
      const before = simdHelperJobs();
      // The page's main thread cannot block, so the caller spins until the helper is done.
      const shared32 = linearF32Sums(x, w, S, inF, outF);
      const shared64 = linearF32(x, w, S, inF, outF);
      expect(simdHelperJobs()[0] - before[0]).toBe(2);
      setCpuSimd(false);
      expect(sameBits(shared32, linearF32Sums(x, w, S, inF, outF))).toBe(true);
      expect(sameBits(shared64, linearF32(x, w, S, inF, outF))).toBe(true);
    } finally {
      stopSimdHelpers();
    }
  });
});
