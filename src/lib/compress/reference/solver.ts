import { subtractEachInOrder, subtractSumInOrder } from './blocked';
import { dampedInverseFactor, type DampOptions } from './linalg';
import { f32, type Matrix } from './types';

/** Options shared by GPTQ and SparseGPT. */
export interface SolverOptions extends DampOptions {
  /** Columns per lazy-update block (reference: 128). The GPU kernel holds at most 128. */
  blockSize?: number;
  /** Factors of Hessians already seen (one layer's): linears that read the same H share one. */
  factors?: FactorCache;
}

/** What the prologue derives from H alone: the same for every linear on the same input. */
interface HessianFactor {
  dead: Int32Array;
  perm: Int32Array | null;
  U: Float32Array;
  invd: Float32Array;
  invd2: Float32Array;
  percdamp: number;
  damp: number;
  retries: number;
}

/**
 * The prologue's factors by Hessian: q/k/v, and gate/up, read one H each, and the damped
 * Cholesky of H⁻¹ (0.04 s for a 576-wide H, 0.4 s for a 1536-wide one here) need not be taken
 * once per linear. An H is matched by its values (a hook may change one linear's copy), with
 * the act_order and damping settings that shaped the factor. Keep one per layer: it holds the
 * Hessians it has seen.
 */
export class FactorCache {
  private readonly entries: { h: Float32Array; settings: string; factor: HessianFactor }[] = [];

  get(h: Float32Array, settings: string): HessianFactor | undefined {
    return this.entries.find((e) => e.settings === settings && sameValues(e.h, h))?.factor;
  }

  set(h: Float32Array, settings: string, factor: HessianFactor): void {
    this.entries.push({ h: h.slice(), settings, factor });
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) return false;
  return true;
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
  const settings = JSON.stringify([actOrder, opts.percdamp, opts.dampStep, opts.maxRetries, opts.route]);
  let f = opts.factors?.get(H, settings);
  if (!f) {
    f = factorHessian(H, cols, opts, actOrder);
    opts.factors?.set(H, settings, f);
  }
  const w = W.data.slice();
  for (const j of f.dead) for (let r = 0; r < rows; r++) w[r * cols + j] = 0;
  const { perm } = f;
  let wp = w;
  if (perm) {
    wp = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) wp[r * cols + j] = w[r * cols + perm[j]];
  }
  return {
    W: wp,
    U: f.U,
    invd: f.invd,
    invd2: f.invd2,
    report: { percdamp: f.percdamp, damp: f.damp, retries: f.retries, deadColumns: f.dead.length, perm },
  };
}

/** The prologue's part that reads H alone: dead columns, act_order permutation, the damped factor. */
function factorHessian(H: Float32Array, cols: number, opts: DampOptions, actOrder: boolean): HessianFactor {
  const h = H.slice();
  const dead: number[] = [];
  for (let j = 0; j < cols; j++) {
    if (h[j * cols + j] !== 0) continue;
    dead.push(j);
    h[j * cols + j] = 1;
  }
  let perm: Int32Array | null = null;
  let hp = h;
  if (actOrder) {
    perm = actOrderPermutation(h, cols);
    hp = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) hp[i * cols + j] = h[perm[i] * cols + perm[j]];
  }
  const f = dampedInverseFactor(hp, cols, opts);
  const invd = new Float32Array(cols);
  const invd2 = new Float32Array(cols);
  for (let i = 0; i < cols; i++) {
    const d = f.U[i * cols + i];
    invd[i] = f32(1 / d);
    invd2[i] = f32(1 / f32(d * d));
  }
  return { dead: Int32Array.from(dead), perm, U: f.U, invd, invd2, percdamp: f.percdamp, damp: f.damp, retries: f.retries };
}

/**
 * Fixes block column `i` of row `r`: `w[at]` holds its value updated by every earlier column,
 * `w[at + 1 …]` the row's next columns up to the end of the current sub-block (updated as far);
 * returns the value to commit (GPTQ: the quantized value; SparseGPT: 0 or the value).
 */
export type FixColumn = (r: number, i: number, w: Float32Array, at: number) => number;

/** Columns of a block committed row by row before their error goes to the rest of the block as one tiled update. */
export const SUB_BLOCK = 16;

/**
 * GPTQ's and SparseGPT's column loop over W (rows × cols, in place): blocks of `B` columns with
 * the lazy update of the later blocks, and inside a block the error of each committed column,
 * scaled by the inverse Hessian's diagonal, subtracted from the block's later columns.
 *
 * Every entry receives the same fp32 operations in the same order as the column-at-a-time
 * reference (`w −= f32(e_i·U[i][j])` for i ascending in a block; the lazy update's sum in
 * ascending order), but the work is reordered for the cache: a block is copied out, its columns
 * are committed `sub` at a time (the sub-block's own triangle row by row), and the sub-block's
 * error reaches the block's later columns through one register-tiled update. `sub` must keep
 * any column group that `fix` reads ahead (SparseGPT's N:M group) inside one sub-block.
 * `beginBlock(i1, i2)` runs before a block's first column (GPTQ refits its groups there).
 */
export function solveColumns(
  W: Float32Array,
  rows: number,
  cols: number,
  U: Float32Array,
  invd: Float32Array,
  B: number,
  sub: number,
  fix: FixColumn,
  beginBlock?: (i1: number, i2: number) => void,
): void {
  const Wb = new Float32Array(rows * B);
  const Err = new Float32Array(rows * B);
  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    beginBlock?.(i1, i2);
    for (let r = 0; r < rows; r++) Wb.set(W.subarray(r * cols + i1, r * cols + i2), r * B);
    for (let s0 = 0; s0 < count; s0 += sub) {
      const s1 = Math.min(s0 + sub, count);
      for (let r = 0; r < rows; r++) {
        const row = r * B;
        for (let i = s0; i < s1; i++) {
          const w = Wb[row + i];
          const q = fix(r, i, Wb, row + i);
          const e = f32(f32(w - q) * invd[i1 + i]);
          Err[row + i] = e;
          Wb[row + i] = q;
          const u = (i1 + i) * cols + i1;
          for (let j = i + 1; j < s1; j++) Wb[row + j] -= f32(e * U[u + j]);
        }
      }
      subtractEachInOrder(rows, count - s1, s1 - s0, Err, s0, B, U, (i1 + s0) * cols + i1 + s1, cols, Wb, s1, B);
    }
    for (let r = 0; r < rows; r++) W.set(Wb.subarray(r * B, r * B + count), r * cols + i1);
    subtractSumInOrder(rows, cols - i2, count, Err, 0, B, U, i1 * cols + i2, cols, W, i2, cols);
  }
}

/** Columns back to their original order: out[:, perm[p]] = src[:, p]. */
export function unpermuteColumns<T extends Float32Array | Uint8Array>(src: T, rows: number, cols: number, perm: Int32Array | null): T {
  if (!perm) return src;
  const out = src.slice() as T;
  for (let r = 0; r < rows; r++) for (let p = 0; p < cols; p++) out[r * cols + perm[p]] = src[r * cols + p];
  return out;
}
