import { simdGram, simdSubtractEach, simdSubtractSum } from './simd';
import { f32 } from './types';

/**
 * Register-tiled fp32 kernels for the CPU hot loops. Each one keeps, for every output entry,
 * exactly the operation sequence of the straightforward loop it replaces (same products, same
 * order, an fp32 rounding after each step), so the WGSL kernels that these references are the
 * oracles of still match them bit for bit; only the order in which independent entries are
 * visited changes. Tiles of 4 rows × 2 columns keep eight accumulators in registers (V8 has 16
 * on x64) and load each operand once per tile instead of once per product.
 *
 * A strided view: entry (r, c) of X lies at x[x0 + r·ldx + c].
 *
 * Where WebAssembly SIMD is available the GEMM-shaped kernels run on it instead (`simd.ts`:
 * four entries per instruction, the same operations per entry); the loops below are the fallback
 * and the oracle the SIMD versions are tested against.
 */

/**
 * C[r][n] ← f32(C[r][n] − f32(A[r][k]·B[k][n])) for k = 0 … K−1 in turn, for r < rows, n < width:
 * the in-block GPTQ/SparseGPT update of later columns, one committed column k at a time.
 */
export function subtractEachInOrder(
  rows: number,
  width: number,
  K: number,
  A: Float32Array,
  a0: number,
  lda: number,
  B: Float32Array,
  b0: number,
  ldb: number,
  C: Float32Array,
  c0: number,
  ldc: number,
): void {
  if (rows <= 0 || width <= 0 || K <= 0) return;
  if (simdSubtractEach(rows, width, K, A, a0, lda, B, b0, ldb, C, c0, ldc)) return;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const e0 = a0 + r * lda;
    const e1 = e0 + lda;
    const e2 = e1 + lda;
    const e3 = e2 + lda;
    const w0 = c0 + r * ldc;
    const w1 = w0 + ldc;
    const w2 = w1 + ldc;
    const w3 = w2 + ldc;
    let n = 0;
    for (; n + 1 < width; n += 2) {
      let c00 = C[w0 + n];
      let c01 = C[w0 + n + 1];
      let c10 = C[w1 + n];
      let c11 = C[w1 + n + 1];
      let c20 = C[w2 + n];
      let c21 = C[w2 + n + 1];
      let c30 = C[w3 + n];
      let c31 = C[w3 + n + 1];
      let u = b0 + n;
      for (let k = 0; k < K; k++, u += ldb) {
        const p = B[u];
        const q = B[u + 1];
        const x0 = A[e0 + k];
        const x1 = A[e1 + k];
        const x2 = A[e2 + k];
        const x3 = A[e3 + k];
        c00 = f32(c00 - f32(x0 * p));
        c01 = f32(c01 - f32(x0 * q));
        c10 = f32(c10 - f32(x1 * p));
        c11 = f32(c11 - f32(x1 * q));
        c20 = f32(c20 - f32(x2 * p));
        c21 = f32(c21 - f32(x2 * q));
        c30 = f32(c30 - f32(x3 * p));
        c31 = f32(c31 - f32(x3 * q));
      }
      C[w0 + n] = c00;
      C[w0 + n + 1] = c01;
      C[w1 + n] = c10;
      C[w1 + n + 1] = c11;
      C[w2 + n] = c20;
      C[w2 + n + 1] = c21;
      C[w3 + n] = c30;
      C[w3 + n + 1] = c31;
    }
    if (n < width) subtractEachScalar(4, n, width, K, A, a0 + r * lda, lda, B, b0, ldb, C, c0 + r * ldc, ldc);
  }
  if (r < rows) subtractEachScalar(rows - r, 0, width, K, A, a0 + r * lda, lda, B, b0, ldb, C, c0 + r * ldc, ldc);
}

function subtractEachScalar(
  rows: number,
  n0: number,
  n1: number,
  K: number,
  A: Float32Array,
  a0: number,
  lda: number,
  B: Float32Array,
  b0: number,
  ldb: number,
  C: Float32Array,
  c0: number,
  ldc: number,
): void {
  for (let r = 0; r < rows; r++) {
    for (let n = n0; n < n1; n++) {
      let c = C[c0 + r * ldc + n];
      for (let k = 0; k < K; k++) c = f32(c - f32(A[a0 + r * lda + k] * B[b0 + k * ldb + n]));
      C[c0 + r * ldc + n] = c;
    }
  }
}

/**
 * C[r][n] ← f32(C[r][n] − s) with s = Σ_k f32(A[r][k]·B[k][n]) summed in fp32 from 0, k
 * ascending: GPTQ's lazy update W[:, i2:] −= Err·U[i1:i2, i2:] in the GEMM kernel's order.
 */
export function subtractSumInOrder(
  rows: number,
  width: number,
  K: number,
  A: Float32Array,
  a0: number,
  lda: number,
  B: Float32Array,
  b0: number,
  ldb: number,
  C: Float32Array,
  c0: number,
  ldc: number,
): void {
  if (rows <= 0 || width <= 0) return;
  if (simdSubtractSum(rows, width, K, A, a0, lda, B, b0, ldb, C, c0, ldc)) return;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const e0 = a0 + r * lda;
    const e1 = e0 + lda;
    const e2 = e1 + lda;
    const e3 = e2 + lda;
    const w0 = c0 + r * ldc;
    const w1 = w0 + ldc;
    const w2 = w1 + ldc;
    const w3 = w2 + ldc;
    let n = 0;
    for (; n + 1 < width; n += 2) {
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      let u = b0 + n;
      for (let k = 0; k < K; k++, u += ldb) {
        const p = B[u];
        const q = B[u + 1];
        const x0 = A[e0 + k];
        const x1 = A[e1 + k];
        const x2 = A[e2 + k];
        const x3 = A[e3 + k];
        s00 = f32(s00 + f32(x0 * p));
        s01 = f32(s01 + f32(x0 * q));
        s10 = f32(s10 + f32(x1 * p));
        s11 = f32(s11 + f32(x1 * q));
        s20 = f32(s20 + f32(x2 * p));
        s21 = f32(s21 + f32(x2 * q));
        s30 = f32(s30 + f32(x3 * p));
        s31 = f32(s31 + f32(x3 * q));
      }
      C[w0 + n] -= s00;
      C[w0 + n + 1] -= s01;
      C[w1 + n] -= s10;
      C[w1 + n + 1] -= s11;
      C[w2 + n] -= s20;
      C[w2 + n + 1] -= s21;
      C[w3 + n] -= s30;
      C[w3 + n + 1] -= s31;
    }
    if (n < width) subtractSumScalar(4, n, width, K, A, a0 + r * lda, lda, B, b0, ldb, C, c0 + r * ldc, ldc);
  }
  if (r < rows) subtractSumScalar(rows - r, 0, width, K, A, a0 + r * lda, lda, B, b0, ldb, C, c0 + r * ldc, ldc);
}

function subtractSumScalar(
  rows: number,
  n0: number,
  n1: number,
  K: number,
  A: Float32Array,
  a0: number,
  lda: number,
  B: Float32Array,
  b0: number,
  ldb: number,
  C: Float32Array,
  c0: number,
  ldc: number,
): void {
  for (let r = 0; r < rows; r++) {
    for (let n = n0; n < n1; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s = f32(s + f32(A[a0 + r * lda + k] * B[b0 + k * ldb + n]));
      C[c0 + r * ldc + n] = f32(C[c0 + r * ldc + n] - s);
    }
  }
}

/**
 * XᵀX of X (T × n, row-major) in fp32, each entry summed over t ascending from 0 with an fp32
 * rounding per product and per sum. Only the lower triangle is computed (the product is
 * commutative, so entry (j, i) repeats (i, j)'s operations) and mirrored; X is transposed
 * first so that every tile walks two contiguous rows of Xᵀ.
 */
export function gramInOrder(X: Float32Array, T: number, n: number): Float32Array {
  const out = new Float32Array(n * n);
  if (T === 0 || n === 0) return out;
  const fast = simdGram(X, T, n);
  if (fast) return fast;
  const Xt = new Float32Array(n * T);
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) Xt[i * T + t] = X[t * n + i];
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const p0 = i * T;
    const p1 = p0 + T;
    // Columns j ≤ i + 1 in pairs; the pair (i, i+1) also yields the diagonal entries.
    for (let j = 0; j <= i; j += 2) {
      const q0 = j * T;
      const q1 = q0 + T;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let t = 0; t < T; t++) {
        const a = Xt[p0 + t];
        const b = Xt[p1 + t];
        const c = Xt[q0 + t];
        const d = Xt[q1 + t];
        s00 = f32(s00 + f32(a * c));
        s01 = f32(s01 + f32(a * d));
        s10 = f32(s10 + f32(b * c));
        s11 = f32(s11 + f32(b * d));
      }
      out[i * n + j] = s00;
      out[i * n + j + 1] = s01;
      out[(i + 1) * n + j] = s10;
      out[(i + 1) * n + j + 1] = s11;
    }
  }
  if (i < n) {
    // The last row of an odd n.
    const p = i * T;
    for (let j = 0; j <= i; j++) {
      const q = j * T;
      let s = 0;
      for (let t = 0; t < T; t++) s = f32(s + f32(Xt[p + t] * Xt[q + t]));
      out[i * n + j] = s;
    }
  }
  for (let r = 0; r < n; r++) for (let c = r + 1; c < n; c++) out[r * n + c] = out[c * n + r];
  return out;
}

/**
 * out[t·ldo + c] = Σ_j f32(X[rowAt[t] + j]·Q[c·len + j]) summed in fp32 from 0, j ascending:
 * every candidate c against every listed row of X: `linearF32Sums` where WebAssembly SIMD is not
 * available. A tile of 4 rows × 2 candidates runs eight independent fp32 chains where one dot
 * product at a time waits on each rounding.
 */
export function dotsInOrder(
  X: Float32Array,
  rowAt: ArrayLike<number>,
  Q: Float32Array,
  candidates: number,
  len: number,
  out: Float32Array,
  ldo: number,
): void {
  const T = rowAt.length;
  let t = 0;
  for (; t + 3 < T; t += 4) {
    const x0 = rowAt[t];
    const x1 = rowAt[t + 1];
    const x2 = rowAt[t + 2];
    const x3 = rowAt[t + 3];
    let c = 0;
    for (; c + 1 < candidates; c += 2) {
      const q0 = c * len;
      const q1 = q0 + len;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let j = 0; j < len; j++) {
        const p = Q[q0 + j];
        const q = Q[q1 + j];
        let x = X[x0 + j];
        s00 = f32(s00 + f32(x * p));
        s01 = f32(s01 + f32(x * q));
        x = X[x1 + j];
        s10 = f32(s10 + f32(x * p));
        s11 = f32(s11 + f32(x * q));
        x = X[x2 + j];
        s20 = f32(s20 + f32(x * p));
        s21 = f32(s21 + f32(x * q));
        x = X[x3 + j];
        s30 = f32(s30 + f32(x * p));
        s31 = f32(s31 + f32(x * q));
      }
      const o = t * ldo + c;
      out[o] = s00;
      out[o + 1] = s01;
      out[o + ldo] = s10;
      out[o + ldo + 1] = s11;
      out[o + 2 * ldo] = s20;
      out[o + 2 * ldo + 1] = s21;
      out[o + 3 * ldo] = s30;
      out[o + 3 * ldo + 1] = s31;
    }
    for (; c < candidates; c++) for (let k = 0; k < 4; k++) out[(t + k) * ldo + c] = dotInOrder(X, rowAt[t + k], Q, c * len, len);
  }
  for (; t < T; t++) for (let c = 0; c < candidates; c++) out[t * ldo + c] = dotInOrder(X, rowAt[t], Q, c * len, len);
}

/** Σ_j f32(x[xo + j]·q[qo + j]) in fp32 from 0, j ascending. */
export function dotInOrder(x: Float32Array, xo: number, q: Float32Array, qo: number, len: number): number {
  let s = 0;
  for (let j = 0; j < len; j++) s = f32(s + f32(x[xo + j] * q[qo + j]));
  return s;
}
