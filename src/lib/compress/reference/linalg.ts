/**
 * Dense symmetric positive-definite linear algebra for the GPTQ / SparseGPT prologue.
 *
 * Precision: fp64. The reference runs torch.linalg.cholesky in fp32 on a GPU; here the matrix
 * is factored once per linear on the CPU, where JS arithmetic is double anyway (emulating fp32
 * would need a Math.fround per operation and be slower), and fp64 fails less often on the
 * nearly singular Hessians of tiny calibration sets. The factor is rounded to fp32 afterwards,
 * so the column loop sees fp32 values as in the reference; they differ from torch's by the
 * fp32 rounding of the factorisation (~1e-6 relative), not by algorithm.
 *
 * Matrices are row-major n×n Float64Arrays.
 */

import { simdCholesky, simdInvertLower } from './simd';

/**
 * Lower Cholesky factor L (A = L·Lᵀ), upper triangle zero; null when A is not positive definite.
 * Each entry is the plain row-by-row dot product (k ascending), but four entries of a row are
 * summed side by side: one load of L[i][k] serves four independent chains instead of one
 * chain waiting on each addition.
 */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array | null {
  if (a.length !== n * n) throw new Error(`cholesky: expected ${n * n} values, got ${a.length}`);
  const fast = simdCholesky(a, n);
  if (fast !== undefined) return fast;
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let j = 0;
    for (; j + 3 < i; j += 4) {
      const r0 = j * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      let s0 = a[ri + j];
      let s1 = a[ri + j + 1];
      let s2 = a[ri + j + 2];
      let s3 = a[ri + j + 3];
      for (let k = 0; k < j; k++) {
        const l = L[ri + k];
        s0 -= l * L[r0 + k];
        s1 -= l * L[r1 + k];
        s2 -= l * L[r2 + k];
        s3 -= l * L[r3 + k];
      }
      // The terms k = j … j+2 need this row's entries just found, in the same ascending order.
      const l0 = s0 / L[r0 + j];
      s1 -= l0 * L[r1 + j];
      const l1 = s1 / L[r1 + j + 1];
      s2 -= l0 * L[r2 + j];
      s2 -= l1 * L[r2 + j + 1];
      const l2 = s2 / L[r2 + j + 2];
      s3 -= l0 * L[r3 + j];
      s3 -= l1 * L[r3 + j + 1];
      s3 -= l2 * L[r3 + j + 2];
      L[ri + j] = l0;
      L[ri + j + 1] = l1;
      L[ri + j + 2] = l2;
      L[ri + j + 3] = s3 / L[r3 + j + 3];
    }
    for (; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        L[ri + i] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j];
      }
    }
  }
  return L;
}

/**
 * Inverse of a lower-triangular matrix (lower-triangular result). Column j of L⁻¹ comes by
 * forward substitution, stored transposed (row j of T = column j of X) so the inner loop walks
 * contiguous memory; four columns advance together so each load of L[i][k] feeds four chains,
 * each chain still summing k ascending from its own diagonal.
 */
export function invertLower(L: Float64Array, n: number): Float64Array {
  const fast = simdInvertLower(L, n);
  if (fast) return fast;
  const X = new Float64Array(n * n);
  const T = new Float64Array(n * n);
  let j = 0;
  for (; j + 3 < n; j += 4) {
    // The 4×4 diagonal tile, one column at a time as below.
    for (let c = j; c < j + 4; c++) substituteColumn(L, T, n, c, j + 4);
    const t0 = j * n;
    const t1 = t0 + n;
    const t2 = t1 + n;
    const t3 = t2 + n;
    let i = j + 4;
    // Rows in pairs: row i+1's chains take row i's fresh entry (k = i) last, as k ascends.
    for (; i + 1 < n; i += 2) {
      const ri = i * n;
      const rn = ri + n;
      let s0 = head(L, T, ri, t0, j, j);
      let s1 = head(L, T, ri, t1, j + 1, j);
      let s2 = head(L, T, ri, t2, j + 2, j);
      let s3 = head(L, T, ri, t3, j + 3, j);
      let v0 = head(L, T, rn, t0, j, j);
      let v1 = head(L, T, rn, t1, j + 1, j);
      let v2 = head(L, T, rn, t2, j + 2, j);
      let v3 = head(L, T, rn, t3, j + 3, j);
      for (let k = j + 4; k < i; k++) {
        const l = L[ri + k];
        const m = L[rn + k];
        const a = T[t0 + k];
        const b = T[t1 + k];
        const c = T[t2 + k];
        const d = T[t3 + k];
        s0 -= l * a;
        s1 -= l * b;
        s2 -= l * c;
        s3 -= l * d;
        v0 -= m * a;
        v1 -= m * b;
        v2 -= m * c;
        v3 -= m * d;
      }
      const di = L[ri + i];
      const a = (T[t0 + i] = s0 / di);
      const b = (T[t1 + i] = s1 / di);
      const c = (T[t2 + i] = s2 / di);
      const d = (T[t3 + i] = s3 / di);
      const m = L[rn + i];
      const dn = L[rn + i + 1];
      T[t0 + i + 1] = (v0 - m * a) / dn;
      T[t1 + i + 1] = (v1 - m * b) / dn;
      T[t2 + i + 1] = (v2 - m * c) / dn;
      T[t3 + i + 1] = (v3 - m * d) / dn;
    }
    for (; i < n; i++) {
      const ri = i * n;
      let s0 = head(L, T, ri, t0, j, j);
      let s1 = head(L, T, ri, t1, j + 1, j);
      let s2 = head(L, T, ri, t2, j + 2, j);
      let s3 = head(L, T, ri, t3, j + 3, j);
      for (let k = j + 4; k < i; k++) {
        const l = L[ri + k];
        s0 -= l * T[t0 + k];
        s1 -= l * T[t1 + k];
        s2 -= l * T[t2 + k];
        s3 -= l * T[t3 + k];
      }
      const d = L[ri + i];
      T[t0 + i] = s0 / d;
      T[t1 + i] = s1 / d;
      T[t2 + i] = s2 / d;
      T[t3 + i] = s3 / d;
    }
  }
  for (; j < n; j++) substituteColumn(L, T, n, j, n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) X[i * n + j] = T[j * n + i];
  return X;
}

/** −Σ L[i][k]·T[c][k] for k from `from` to j0+3, ascending from 0: a chain's terms inside the diagonal tile at j0. */
function head(L: Float64Array, T: Float64Array, ri: number, tc: number, from: number, j0: number): number {
  let s = 0;
  for (let k = from; k < j0 + 4; k++) s -= L[ri + k] * T[tc + k];
  return s;
}

/** Row j of T (column j of L⁻¹) for rows i < `until`. */
function substituteColumn(L: Float64Array, T: Float64Array, n: number, j: number, until: number): void {
  const tj = j * n;
  T[tj + j] = 1 / L[j * n + j];
  for (let i = j + 1; i < until; i++) {
    const ri = i * n;
    let s = 0;
    for (let k = j; k < i; k++) s -= L[ri + k] * T[tj + k];
    T[tj + i] = s / L[ri + i];
  }
}

/** A⁻¹ from A's lower Cholesky factor (torch.cholesky_inverse): L⁻ᵀ·L⁻¹. */
export function choleskyInverse(L: Float64Array, n: number): Float64Array {
  const Li = invertLower(L, n);
  const out = new Float64Array(n * n);
  // (L⁻ᵀ L⁻¹)[i][j] = Σ_k Li[k][i]·Li[k][j] over k ≥ max(i, j); accumulate row k's outer product.
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const v = Li[rk + i];
      if (v === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= i; j++) out[ri + j] += v * Li[rk + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
  return out;
}

/** A⁻¹ via Cholesky; null when A is not positive definite. */
export function spdInverse(a: ArrayLike<number>, n: number): Float64Array | null {
  const L = cholesky(a, n);
  return L && choleskyInverse(L, n);
}

/**
 * `'reference'`: U = chol(chol_inverse(chol(H)))ᵀ, the three steps of the GPTQ/SparseGPT code.
 * `'reverse'`: factor the index-reversed H as L'L'ᵀ, so H = ŨŨᵀ with Ũ = J L' J upper
 * triangular, and U = Ũ⁻¹ (then UᵀU = (ŨŨᵀ)⁻¹ = H⁻¹, and Cholesky factors are unique). Same
 * U, half the arithmetic (one factorisation and one triangular inverse), and no second
 * factorisation that can fail on its own.
 */
export type FactorRoute = 'reference' | 'reverse';

/** Upper-triangular U with H⁻¹ = UᵀU; null when H is not positive definite. */
export function upperCholeskyOfInverse(h: ArrayLike<number>, n: number, route: FactorRoute = 'reverse'): Float64Array | null {
  if (route === 'reference') {
    const L = cholesky(h, n);
    if (!L) return null;
    const L2 = cholesky(choleskyInverse(L, n), n);
    if (!L2) return null;
    const U = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) U[j * n + i] = L2[i * n + j];
    return U;
  }
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  const Lr = cholesky(r, n);
  if (!Lr) return null;
  const Li = invertLower(Lr, n);
  // U = (J Lr J)⁻¹ = J Lr⁻¹ J.
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = Li[(n - 1 - i) * n + (n - 1 - j)];
  return U;
}

export interface DampedFactor {
  /** Upper-triangular factor of (H + damp·I)⁻¹ rounded to fp32, row-major. */
  U: Float32Array;
  /** The fraction of mean(diag H) that was added (0.01 unless retried). */
  percdamp: number;
  /** The absolute value added to the diagonal. */
  damp: number;
  /** How many times the factorisation failed and was retried with more damping. */
  retries: number;
}

export interface DampOptions {
  percdamp?: number;
  /** Added to `percdamp` after every failed factorisation. */
  dampStep?: number;
  maxRetries?: number;
  route?: FactorRoute;
}

export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
}

/**
 * H + percdamp·mean(diag H)·I, then U. The damping is added in fp32 as the reference does;
 * when the factorisation fails, percdamp grows by `dampStep` and the attempt is repeated.
 */
export function dampedInverseFactor(H: Float32Array, n: number, opts: DampOptions = {}): DampedFactor {
  const { percdamp = 0.01, dampStep = 0.01, maxRetries = 100, route = 'reverse' } = opts;
  if (H.length !== n * n) throw new Error(`dampedInverseFactor: expected ${n * n} values, got ${H.length}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i];
  mean = Math.fround(mean / n);
  const work = new Float64Array(n * n);
  for (let retries = 0; retries <= maxRetries; retries++) {
    // Adding the step r times rather than multiplying keeps 0.01 + 0.01 = 0.02 exactly as a caller would log it.
    const pd = Math.round((percdamp + retries * dampStep) * 1e12) / 1e12;
    const damp = Math.fround(pd * mean);
    work.set(H);
    for (let i = 0; i < n; i++) work[i * n + i] = Math.fround(H[i * n + i] + damp);
    const U = upperCholeskyOfInverse(work, n, route);
    if (U && U.every(Number.isFinite)) return { U: Float32Array.from(U), percdamp: pd, damp, retries };
  }
  throw new NotPositiveDefiniteError(`Hessian is not positive definite even with percdamp ${percdamp + maxRetries * dampStep}`);
}
