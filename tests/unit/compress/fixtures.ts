import { matrix, type Matrix } from '../../../src/lib/compress/reference/types';
import { seededRandom } from '../../../src/lib/util/rng';

export function normals(n: number, seed: number, scale = 1): Float32Array {
  const u = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(th) * scale;
  }
  return out;
}

export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  return matrix(rows, cols, normals(rows * cols, seed, scale));
}

export interface XOptions {
  /** Input channels that are always zero (never active in calibration). */
  dead?: number[];
  /** Mixing strength between channels (0 = independent). */
  mix?: number;
  /** Channels multiplied by `outlierScale` (AWQ's salient channels). */
  outliers?: number[];
  outlierScale?: number;
}

/** Correlated activations tokens × cols: Z·(I + mix·A) with per-channel scales, some channels dead. */
export function correlatedX(tokens: number, cols: number, seed: number, opts: XOptions = {}): Matrix {
  const { dead = [], mix = 0.6, outliers = [], outlierScale = 10 } = opts;
  const z = normals(tokens * cols, seed);
  const a = normals(cols * cols, seed + 1, mix / Math.sqrt(cols));
  for (let i = 0; i < cols; i++) a[i * cols + i] += 1;
  const chan = normals(cols, seed + 2, 0.5).map(Math.exp);
  for (const o of outliers) chan[o] *= outlierScale;
  const out = new Float32Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    for (let k = 0; k < cols; k++) {
      const zk = z[t * cols + k];
      for (let j = 0; j < cols; j++) out[t * cols + j] += zk * a[k * cols + j];
    }
    for (let j = 0; j < cols; j++) out[t * cols + j] *= chan[j];
  }
  for (const d of dead) for (let t = 0; t < tokens; t++) out[t * cols + d] = 0;
  return matrix(tokens, cols, out);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) c++;
  return c;
}
