import { dampedInverseFactor, type DampOptions } from './linalg';
import { f32, type Matrix } from './types';

/** Options shared by GPTQ and SparseGPT. */
export interface SolverOptions extends DampOptions {
  /** Columns per lazy-update block (reference: 128). The GPU kernel holds at most 128. */
  blockSize?: number;
}

/** What the prologue did, for the variant report. */
export interface SolverReport {
  /** Fraction of mean(diag H) added to the diagonal (0.01 unless the factorisation was retried). */
  percdamp: number;
  damp: number;
  retries: number;
  /** Input channels with diag(H) = 0 (never active in calibration); their weights are zeroed. */
  deadColumns: number;
  /** Column order used (act_order), or null for the natural order. */
  perm: Int32Array | null;
}

export interface Prologue {
  /** W as fp32, dead columns zeroed, columns permuted when act_order is on. */
  W: Float32Array;
  /** Upper Cholesky factor of the damped H⁻¹ (in permuted order), fp32, row-major. */
  U: Float32Array;
  /** 1 / U[i][i]: the loop multiplies by it where the reference divides, so the GPU (whose f32 division is not exactly rounded) and this code agree bit for bit. */
  invd: Float32Array;
  /** 1 / U[i][i]², for SparseGPT's pruning score w² / d². */
  invd2: Float32Array;
  report: SolverReport;
}

export const MAX_BLOCK = 128;

export function resolveBlockSize(opts: SolverOptions): number {
  const b = opts.blockSize ?? 128;
  if (!Number.isInteger(b) || b < 1 || b > MAX_BLOCK) throw new Error(`blockSize must be an integer in 1..${MAX_BLOCK}, got ${b}`);
  return b;
}

/** Descending diag(H), ties in index order (torch's argsort is not stable; we fix one order). */
export function actOrderPermutation(H: Float32Array, n: number): Int32Array {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  return perm.sort((a, b) => H[b * n + b] - H[a * n + a] || a - b);
}

/**
 * The shared prologue: `dead = diag(H) == 0; H[dead,dead] = 1; W[:,dead] = 0`, optional
 * act_order permutation (before damping), damping, U = chol(H⁻¹)ᵀ with the retry ladder.
 * H is not modified.
 */
export function prologue(W: Matrix, H: Float32Array, opts: SolverOptions, actOrder: boolean): Prologue {
  const { rows, cols } = W;
  if (H.length !== cols * cols) throw new Error(`Hessian has ${H.length} values, expected ${cols}² = ${cols * cols}`);
  const h = H.slice();
  const w = W.data.slice();
  let deadColumns = 0;
  for (let j = 0; j < cols; j++) {
    if (h[j * cols + j] !== 0) continue;
    deadColumns++;
    h[j * cols + j] = 1;
    for (let r = 0; r < rows; r++) w[r * cols + j] = 0;
  }
  let perm: Int32Array | null = null;
  let hp = h;
  let wp = w;
  if (actOrder) {
    perm = actOrderPermutation(h, cols);
    hp = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) hp[i * cols + j] = h[perm[i] * cols + perm[j]];
    wp = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) wp[r * cols + j] = w[r * cols + perm[j]];
  }
  const f = dampedInverseFactor(hp, cols, opts);
  const invd = new Float32Array(cols);
  const invd2 = new Float32Array(cols);
  for (let i = 0; i < cols; i++) {
    const d = f.U[i * cols + i];
    invd[i] = f32(1 / d);
    invd2[i] = f32(1 / f32(d * d));
  }
  return {
    W: wp,
    U: f.U,
    invd,
    invd2,
    report: { percdamp: f.percdamp, damp: f.damp, retries: f.retries, deadColumns, perm },
  };
}

/**
 * Fixes column `i` of a row's block at `q`, GPTQ's and SparseGPT's shared step: the error scaled
 * by the inverse Hessian's diagonal is kept for the lazy update of later blocks (`err[errAt]`)
 * and spread at once over this block's later columns.
 */
export function commitColumn(
  w1: Float32Array,
  i: number,
  q: number,
  invdCol: number,
  err: Float32Array,
  errAt: number,
  block: { count: number; U: Float32Array; cols: number; i1: number },
): void {
  const e = f32(f32(w1[i] - q) * invdCol);
  err[errAt] = e;
  w1[i] = q;
  rankOneRow(w1, i, block.count, e, block.U, block.cols, block.i1);
}

/**
 * In-block step after column i of a row: w1[j] −= err·U[col][i1+j] for j in (i, count).
 * `w1` is the row's block slice.
 */
export function rankOneRow(w1: Float32Array, i: number, count: number, err: number, U: Float32Array, cols: number, i1: number): void {
  const u = (i1 + i) * cols + i1;
  for (let j = i + 1; j < count; j++) w1[j] -= f32(err * U[u + j]);
}

/**
 * The lazy update W[:, i2:] −= Err · U[i1:i2, i2:], fp32, each dot product summed over the
 * block in ascending order (the GEMM kernel's order). `Err` is rows × `ldErr`.
 */
export function lazyUpdate(
  W: Float32Array,
  rows: number,
  cols: number,
  Err: Float32Array,
  ldErr: number,
  U: Float32Array,
  i1: number,
  i2: number,
): void {
  const width = cols - i2;
  if (width <= 0) return;
  const acc = new Float32Array(width);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let k = 0; k < i2 - i1; k++) {
      const e = Err[r * ldErr + k];
      const u = (i1 + k) * cols + i2;
      for (let n = 0; n < width; n++) acc[n] += f32(e * U[u + n]);
    }
    const w = r * cols + i2;
    for (let n = 0; n < width; n++) W[w + n] -= acc[n];
  }
}

/** Columns back to their original order: out[:, perm[p]] = src[:, p]. */
export function unpermuteColumns<T extends Float32Array | Uint8Array>(src: T, rows: number, cols: number, perm: Int32Array | null): T {
  if (!perm) return src;
  const out = src.slice() as T;
  for (let r = 0; r < rows; r++) for (let p = 0; p < cols; p++) out[r * cols + perm[p]] = src[r * cols + p];
  return out;
}
