import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dotsInOrder, gramInOrder, subtractEachInOrder, subtractSumInOrder } from '../../../src/lib/compress/reference/blocked';
import { linearF32, linearF32Sums } from '../../../src/lib/compress/reference/block';
import { solveColumns } from '../../../src/lib/compress/reference/solver';
import { cpuSimdActive, setCpuSimd } from '../../../src/lib/compress/reference/simd';
import { f32 } from '../../../src/lib/compress/reference/types';
import { normals } from './fixtures';

/**
 * The tiled kernels promise the straightforward loop's operations per entry, so they are held
 * to bit equality against that loop on shapes that leave every kind of tile edge.
 */
function countDifferent(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) d++;
  return d;
}

// rows × width × K, chosen to cover full 4×2 (TypeScript) and 4×8 (SIMD) tiles, a row remainder
// and a column remainder; the last three carry enough work for the SIMD path to take them.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [4, 2, 3],
  [7, 5, 16],
  [13, 30, 33],
  [9, 1, 128],
  [37, 70, 33],
  [64, 128, 16],
  [6, 203, 128],
];

// S × inF × outF for the linears: full tiles and every edge (S % 4 ≠ 0 leaves single tokens, an
// odd group count a lone 4-output group, outF % 3 or % 4 ≠ 0 a partial one).
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 3, 2],
  [4, 7, 5],
  [9, 16, 9],
  [30, 64, 41],
  [64, 96, 64],
  [7, 200, 30],
  [13, 128, 20],
];

/** y[s][o] = the products x[s][i]·w[o][i] folded from 0 with `add`, i ascending. */
function plainLinear(x: Float32Array, w: Float32Array, S: number, inF: number, outF: number, add: (a: number, p: number) => number) {
  const y = new Float32Array(S * outF);
  for (let s = 0; s < S; s++)
    for (let o = 0; o < outF; o++) {
      let a = 0;
      for (let i = 0; i < inF; i++) a = add(a, x[s * inF + i] * w[o * inF + i]);
      y[s * outF + o] = a;
    }
  return y;
}

const GRAM_SHAPES = [
  [1, 1],
  [5, 2],
  [17, 9],
  [40, 24],
  [70, 61],
  [256, 64],
  [33, 131],
];

describe.each([
  ['WebAssembly SIMD', true],
  ['TypeScript tiles', false],
])('blocked fp32 kernels (%s)', (_, simd) => {
  let was = true;
  beforeAll(() => {
    was = setCpuSimd(simd);
  });
  afterAll(() => {
    setCpuSimd(was);
  });

  it('the SIMD module is in use exactly when enabled (Node instantiates it)', () => {
    expect(cpuSimdActive()).toBe(simd);
  });

  it('subtractEachInOrder equals C −= f32(a·b) one k at a time, through strided views', () => {
    for (const [si, [rows, width, K]] of SHAPES.entries()) {
      const lda = K + 3;
      const ldb = width + 5;
      const ldc = width + 2;
      const A = normals(2 + rows * lda, 100 + si);
      const B = normals(1 + K * ldb, 200 + si);
      const C = normals(4 + rows * ldc, 300 + si);
      const want = C.slice();
      for (let r = 0; r < rows; r++)
        for (let k = 0; k < K; k++) for (let n = 0; n < width; n++) want[4 + r * ldc + n] -= f32(A[2 + r * lda + k] * B[1 + k * ldb + n]);
      subtractEachInOrder(rows, width, K, A, 2, lda, B, 1, ldb, C, 4, ldc);
      expect(countDifferent(C, want)).toBe(0);
    }
  });

  it('subtractSumInOrder equals C −= (fp32 sum over k ascending of f32(a·b))', () => {
    for (const [si, [rows, width, K]] of SHAPES.entries()) {
      const A = normals(rows * K, 400 + si);
      const B = normals(K * width, 500 + si);
      const C = normals(rows * width, 600 + si);
      const want = C.slice();
      const acc = new Float32Array(width);
      for (let r = 0; r < rows; r++) {
        acc.fill(0);
        for (let k = 0; k < K; k++) for (let n = 0; n < width; n++) acc[n] += f32(A[r * K + k] * B[k * width + n]);
        for (let n = 0; n < width; n++) want[r * width + n] -= acc[n];
      }
      subtractSumInOrder(rows, width, K, A, 0, K, B, 0, width, C, 0, width);
      expect(countDifferent(C, want)).toBe(0);
    }
  });

  it('gramInOrder equals XᵀX summed token by token in fp32, odd and even widths', () => {
    for (const [T, n] of GRAM_SHAPES) {
      const X = normals(T * n, 700 + n);
      const want = new Float32Array(n * n);
      for (let t = 0; t < T; t++)
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) want[i * n + j] += f32(X[t * n + i] * X[t * n + j]);
      expect(countDifferent(gramInOrder(X, T, n), want)).toBe(0);
    }
  });

  it('dotsInOrder equals one fp32 dot product per (row, candidate)', () => {
    const cols = 50;
    const X = normals(23 * cols, 800);
    const len = 19;
    for (const candidates of [1, 2, 5, 21]) {
      // 21 candidates over 54 rows: full 4 × 2 tiles with a candidate remainder.
      const rowAt = (candidates < 21 ? [0, 3, 4, 8, 11, 12, 15, 22] : Array.from({ length: 54 }, (_, t) => t % 23)).map(
        (t) => t * cols + 7,
      );
      const Q = normals(candidates * len, 900 + candidates);
      const out = new Float32Array(rowAt.length * candidates);
      dotsInOrder(X, rowAt, Q, candidates, len, out, candidates);
      const want = new Float32Array(out.length);
      for (let t = 0; t < rowAt.length; t++)
        for (let c = 0; c < candidates; c++) {
          let s = 0;
          for (let j = 0; j < len; j++) s = f32(s + f32(X[rowAt[t] + j] * Q[c * len + j]));
          want[t * candidates + c] = s;
        }
      expect(countDifferent(out, want)).toBe(0);
    }
  });

  it('linearF32 (3×3 tiles, or SIMD lanes) equals one double dot product per output, with tile edges', () => {
    for (const [S, inF, outF] of LINEAR_SHAPES) {
      const x = normals(S * inF, 1000 + S);
      const w = normals(outF * inF, 1100 + S);
      expect(
        countDifferent(
          linearF32(x, w, S, inF, outF),
          plainLinear(x, w, S, inF, outF, (a, p) => a + p),
        ),
      ).toBe(0);
    }
  });

  it('linearF32Sums (or its SIMD 4 × 8 tiles) equals one fp32 sum per output, i ascending, with tile edges', () => {
    for (const [S, inF, outF] of LINEAR_SHAPES) {
      const x = normals(S * inF, 1300 + S);
      const w = normals(outF * inF, 1400 + S);
      const bias = normals(outF, 1500 + S);
      const want = plainLinear(x, w, S, inF, outF, (a, p) => f32(a + f32(p))).map((v, k) => v + bias[k % outF]);
      expect(countDifferent(linearF32Sums(x, w, S, inF, outF, bias), want)).toBe(0);
      // Not the fp64 sums of linearF32: the two differ in the last bits somewhere.
      if (inF >= 64) expect(countDifferent(linearF32Sums(x, w, S, inF, outF), linearF32(x, w, S, inF, outF))).toBeGreaterThan(0);
    }
  });

  it.each([
    [11, 45, 0.1],
    [40, 150, 0.02],
  ])('solveColumns equals the column-at-a-time loop (every column spread over its block at once), %i × %i', (rows, cols, spread) => {
    const U = normals(cols * cols, 1200, spread);
    const invd = normals(cols, 1201).map((v) => f32(1 + Math.abs(v)));
    const W0 = normals(rows * cols, 1202);
    // A commit rule that reads the value it is given: round to a coarse grid.
    const fixValue = (v: number) => f32(Math.round(v * 4) / 4);
    for (const [B, sub] of [
      [16, 16],
      [20, 8],
      [45, 7],
      [1, 1],
      [64, 16],
    ]) {
      const want = W0.slice();
      const Err = new Float32Array(rows * B);
      const w1 = new Float32Array(B);
      for (let i1 = 0; i1 < cols; i1 += B) {
        const i2 = Math.min(i1 + B, cols);
        for (let r = 0; r < rows; r++) {
          w1.set(want.subarray(r * cols + i1, r * cols + i2));
          for (let i = 0; i < i2 - i1; i++) {
            const q = fixValue(w1[i]);
            const e = f32(f32(w1[i] - q) * invd[i1 + i]);
            Err[r * B + i] = e;
            w1[i] = q;
            for (let j = i + 1; j < i2 - i1; j++) w1[j] -= f32(e * U[(i1 + i) * cols + i1 + j]);
          }
          want.set(w1.subarray(0, i2 - i1), r * cols + i1);
        }
        for (let r = 0; r < rows; r++)
          for (let n = i2; n < cols; n++) {
            let s = 0;
            for (let k = 0; k < i2 - i1; k++) s = f32(s + f32(Err[r * B + k] * U[(i1 + k) * cols + n]));
            want[r * cols + n] = f32(want[r * cols + n] - s);
          }
      }
      const got = W0.slice();
      solveColumns(got, rows, cols, U, invd, B, sub, (_r, _i, w, at) => fixValue(w[at]));
      expect(countDifferent(got, want)).toBe(0);
    }
  });
});
