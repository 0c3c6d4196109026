import { CPU_KERNELS_WASM } from './simd-binary';
import { rowShares, runShared, sharedLinear, simdPool } from './simd-helpers';

/**
 * The WebAssembly SIMD versions of the tiled CPU kernels (`assembly/cpu-kernels.ts`), bit-identical
 * to the TypeScript ones in `blocked.ts`, which call them when the module can be instantiated here
 * (every current browser and Node) and fall back to their own loops when not.
 *
 * Operands are copied into the module's memory (one region reused and grown as needed, never
 * shrunk) and the result copied back: the copies cost a few bytes per output entry against K
 * multiply-adds, so only calls with enough work per entry take this path.
 */
interface CpuKernels {
  memory: WebAssembly.Memory;
  subtractSum(rows: number, width: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number): void;
  subtractEach(rows: number, width: number, K: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number): void;
  gram(x: number, T: number, n: number, out: number): void;
  linear(x: number, w4: number, S: number, inF: number, outF: number, y: number): void;
  linear32(x: number, w4: number, S: number, inF: number, outF: number, y: number): void;
  quantizeRtn(
    w: number,
    rows: number,
    cols: number,
    groupSize: number,
    mode: number,
    bits: number,
    out: number,
    codes: number,
    scales: number,
    zeros: number,
  ): void;
  scaleColumns(w: number, rows: number, cols: number, s: number, divide: number): void;
  scaledQuantize(
    w: number,
    rows: number,
    cols: number,
    s: number,
    groupSize: number,
    mode: number,
    bits: number,
    out: number,
    codes: number,
    scales: number,
    zeros: number,
  ): void;
  squaredErrorSums(y: number, t: number, n: number, perSample: number): number;
  interleave4(src: number, rows: number, len: number, dst: number): void;
  clampRows(w: number, rows: number, len: number, steps: number, maxima: number, out: number): void;
  clipErrors(dots: number, T: number, rows: number, steps: number, errs: number): void;
  cholesky(p: number, n: number): number;
  invertLower(p: number, n: number, t: number): void;
}

let compiled: WebAssembly.Module | null | undefined;
let kernels: CpuKernels | null | undefined;
let enabled = true;

/** Turns the SIMD path off or on (benchmarks compare the two in one run); returns the previous setting. */
export function setCpuSimd(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the SIMD kernels are in use: enabled and instantiable on this runtime. */
export function cpuSimdActive(): boolean {
  return enabled && instance() !== null;
}

function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(CPU_KERNELS_WASM), (c) => c.charCodeAt(0));
    // Synchronous compilation: the module is a few kilobytes, below every engine's limit for it.
    compiled = new WebAssembly.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

/** A new instance: its memory (zeroed) is freed with it, where the shared one would keep its largest size. */
function freshInstance(): CpuKernels | null {
  const m = module();
  if (!m) return null;
  try {
    return new WebAssembly.Instance(m, {}).exports as unknown as CpuKernels;
  } catch {
    return null;
  }
}

function instance(): CpuKernels | null {
  if (kernels === undefined) kernels = freshInstance();
  return kernels;
}

function active(): CpuKernels | null {
  return enabled ? instance() : null;
}

/**
 * The instance a call lays its operands out in: the helper threads' shared one when they run
 * (`pool` set), else this thread's own; `k` null when the caller must run its own loops.
 */
function kernelsForCall(): { k: CpuKernels | null; pool: ReturnType<typeof simdPool> } {
  const pool = enabled ? simdPool() : null;
  return { k: pool ? (pool.exports as CpuKernels) : active(), pool };
}

/** The module's quantizer mode: +2 for AWQ's grid, +1 for symmetric. */
function rtnMode(variant: 'gptq' | 'awq', sym: boolean): number {
  return (variant === 'awq' ? 2 : 0) + (sym ? 1 : 0);
}

/** Counts `layout` calls: operands a caller left in the module are still there while it stands. */
let layouts = 0;

/** Byte offsets of consecutive fp32 regions of the given lengths, the memory grown to hold them. */
function layout(k: CpuKernels, ...lengths: number[]): number[] {
  layouts++;
  const offsets: number[] = [];
  let end = 0;
  for (const n of lengths) {
    offsets.push(end);
    end += Math.ceil((n * 4) / 16) * 16;
  }
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  return offsets;
}

/** Copies a strided rows × cols view of `src` into the module's memory at `at`, packed (leading dimension cols). */
function put(k: CpuKernels, at: number, src: Float32Array, s0: number, ld: number, rows: number, cols: number): void {
  const mem = new Float32Array(k.memory.buffer, at, rows * cols);
  if (ld === cols) mem.set(src.subarray(s0, s0 + rows * cols));
  else for (let r = 0; r < rows; r++) mem.set(src.subarray(s0 + r * ld, s0 + r * ld + cols), r * cols);
}

function take(k: CpuKernels, at: number, dst: Float32Array, d0: number, ld: number, rows: number, cols: number): void {
  const mem = new Float32Array(k.memory.buffer, at, rows * cols);
  if (ld === cols) dst.set(mem, d0);
  else for (let r = 0; r < rows; r++) dst.set(mem.subarray(r * cols, (r + 1) * cols), d0 + r * ld);
}

/** Below this many multiply-adds per call the copies and the call cost more than SIMD saves. */
const MIN_WORK = 1 << 14;

type Update = (
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
) => boolean;

function update(which: 'subtractSum' | 'subtractEach'): Update {
  return (rows, width, K, A, a0, lda, B, b0, ldb, C, c0, ldc) => {
    const { k, pool } = kernelsForCall();
    if (!k || rows * width * K < MIN_WORK) return false;
    const [a, b, c] = layout(k, rows * K, K * width, rows * width);
    put(k, a, A, a0, lda, rows, K);
    put(k, b, B, b0, ldb, K, width);
    put(k, c, C, c0, ldc, rows, width);
    // Rows of C are independent: helper threads take runs of them.
    if (pool && rows >= 8 && rows * width * K >= MIN_SHARED_WORK)
      runShared(
        which,
        rowShares(rows).map(([r0, n]) => [n, width, K, a + r0 * K * 4, K, b, width, c + r0 * width * 4, width]),
      );
    else k[which](rows, width, K, a, K, b, width, c, width);
    take(k, c, C, c0, ldc, rows, width);
    return true;
  };
}

/** `subtractSumInOrder` on SIMD; false when the caller must run its own loop. */
export const simdSubtractSum: Update = update('subtractSum');
/** `subtractEachInOrder` on SIMD; false when the caller must run its own loop. */
export const simdSubtractEach: Update = update('subtractEach');

/** `gramInOrder` on SIMD, or null when the caller must run its own loop. */
export function simdGram(X: Float32Array, T: number, n: number): Float32Array | null {
  const k = active();
  if (!k || T * n * n < 2 * MIN_WORK) return null;
  const [x, out] = layout(k, T * n, n * n);
  put(k, x, X, 0, n, T, n);
  k.gram(x, T, n, out);
  const result = new Float32Array(n * n);
  take(k, out, result, 0, n, n, n);
  return result;
}

/**
 * Rows of `src` (rows × len, from `s0`, leading dimension `ld`) four at a time, interleaved
 * entry by entry and zero-padded to a multiple of four rows: the layout in which one vector
 * load gives four rows' entry j. The rows go in packed at `scratch`, the module interleaves them.
 */
function putInterleaved(
  k: CpuKernels,
  at: number,
  scratch: number,
  src: Float32Array,
  s0: number,
  ld: number,
  rows: number,
  len: number,
): void {
  put(k, scratch, src, s0, ld, rows, len);
  k.interleave4(scratch, rows, len, at);
}

/** y = x · wᵀ in the module, into `into` (S × outF) when given; null when the caller must run its own loop. */
type Linear = (x: Float32Array, w: Float32Array, S: number, inF: number, outF: number, into?: Float32Array) => Float32Array | null;

/** Below this many multiply-adds a linear stays on the calling thread: waking a helper costs tens of microseconds. */
const MIN_SHARED_WORK = 1 << 20;

function linearKernel(which: 'linear' | 'linear32'): Linear {
  return (x, w, S, inF, outF, into) => {
    // With helper threads running, the operands go into their shared memory instead.
    const { k, pool } = kernelsForCall();
    // The interleaved copy of W costs one pass over it: worth it from a few tokens on.
    if (!k || S < 4 || S * inF * outF < MIN_WORK) return null;
    const [xa, wa, ya, scratch] = layout(k, S * inF, Math.ceil(outF / 4) * 4 * inF, S * outF, outF * inF);
    put(k, xa, x, 0, inF, S, inF);
    putInterleaved(k, wa, scratch, w, 0, inF, outF, inF);
    if (pool && S >= 8 && S * inF * outF >= MIN_SHARED_WORK) sharedLinear(which, xa, wa, S, inF, outF, ya);
    else k[which](xa, wa, S, inF, outF, ya);
    const y = into ?? new Float32Array(S * outF);
    take(k, ya, y, 0, outF, S, outF);
    return y;
  };
}

/** `linearF32` (fp64 sums) on SIMD, or null when the caller must run its own loop. */
export const simdLinear: Linear = linearKernel('linear');
/** `linearF32Sums` (fp32 sums) on SIMD, or null when the caller must run its own loop. */
export const simdLinear32: Linear = linearKernel('linear32');

/** Below this order the factorisations stay in their TypeScript loops. */
const MIN_ORDER = 32;

/** Index of entry (i, k) in the kernels' paired-row layout of order m. */
function paired(m: number, i: number, k: number): number {
  return (i >> 1) * 2 * m + 2 * k + (i & 1);
}

/**
 * A fresh instance with the lower triangle (or all, `whole`) of the row-major n×n `src` in the
 * kernels' paired layout at offset 0, an odd order padded with a unit row and column (which
 * changes no entry of the real rows), and room for `count` matrices of the padded order m in
 * all; null when the caller must run its own loop.
 */
function pairedInstance(
  src: ArrayLike<number>,
  n: number,
  whole: boolean,
  count: number,
): { k: CpuKernels; m: number; mem: Float64Array } | null {
  if (!enabled || n < MIN_ORDER) return null;
  const k = freshInstance();
  if (!k) return null;
  const m = n + (n & 1);
  const bytes = count * m * m * 8;
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
  const mem = new Float64Array(k.memory.buffer, 0, count * m * m);
  for (let i = 0; i < n; i++) for (let j = 0, end = whole ? n : i + 1; j < end; j++) mem[paired(m, i, j)] = src[i * n + j];
  if (m > n) mem[paired(m, n, n)] = 1;
  return { k, m, mem };
}

/**
 * `cholesky` on SIMD: L (row-major, upper triangle zero), null when A is not positive definite,
 * or undefined when the caller must run its own loop.
 */
export function simdCholesky(a: ArrayLike<number>, n: number): Float64Array | null | undefined {
  const p = pairedInstance(a, n, true, 1);
  if (!p) return undefined;
  if (p.k.cholesky(0, p.m) >= 0) return null;
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L[i * n + j] = p.mem[paired(p.m, i, j)];
  return L;
}

/** `invertLower` on SIMD (lower-triangular result), or undefined when the caller must run its own loop. */
export function simdInvertLower(L: Float64Array, n: number): Float64Array | undefined {
  const p = pairedInstance(L, n, false, 2);
  if (!p) return undefined;
  const T = p.m * p.m;
  p.k.invertLower(0, p.m, T * 8);
  const X = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) X[i * n + j] = p.mem[T + j * p.m + i];
  return X;
}

/** The parts `quantizeRtn` makes, from the SIMD kernel. */
export interface RtnParts {
  weight: Float32Array;
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
}

/**
 * `quantizeRtn` on SIMD (rows × cols, contiguous groups of `groupSize` columns; `lo` the clamp
 * range's low end), or null when the caller must run its own loop.
 */
export function simdQuantizeRtn(
  W: Float32Array,
  rows: number,
  cols: number,
  groupSize: number,
  bits: number,
  variant: 'gptq' | 'awq',
  sym: boolean,
  lo: number,
): RtnParts | null {
  const k = active();
  if (!k || rows * cols < MIN_WORK) return null;
  const groups = Math.ceil(cols / groupSize);
  const n = rows * cols;
  // Codes are bytes: a region of ⌈n/4⌉ fp32 slots holds them.
  const [w, out, codes, scales, zeros] = layout(k, n, n, Math.ceil(n / 4), rows * groups, rows * groups);
  new Float32Array(k.memory.buffer, w, n).set(W.subarray(0, n));
  const mode = rtnMode(variant, sym);
  k.quantizeRtn(w, rows, cols, groupSize, mode, bits, out, codes, scales, zeros);
  const buf = k.memory.buffer;
  const zeroPoints = new Float32Array(buf, zeros, rows * groups);
  return {
    weight: new Float32Array(buf, out, n).slice(),
    codes: new Uint8Array(buf, codes, n).slice(),
    scales: new Float32Array(buf, scales, rows * groups).slice(),
    zeros: Uint8Array.from(zeroPoints, (z) => z - lo),
  };
}

/**
 * AWQ's search candidate Q(W·diag s)·diag s⁻¹ (`awqScaledFakeQuant`) in one visit to the module:
 * the columns scaled, quantized and divided back in its memory, only the weights copied out (into
 * `into` when given: a search reuses one buffer, where fresh pages would cost more than the copy);
 * null when the caller must run its own loops.
 */
export function simdScaledFakeQuant(
  W: Float32Array,
  s: Float32Array,
  rows: number,
  cols: number,
  groupSize: number,
  bits: number,
  variant: 'gptq' | 'awq',
  sym: boolean,
  into?: Float32Array,
): Float32Array | null {
  const { k, pool } = kernelsForCall();
  if (!k || rows * cols < MIN_WORK) return null;
  const n = rows * cols;
  const [w, out, sc, codes, scales, zeros] = layout(
    k,
    n,
    n,
    cols,
    Math.ceil(n / 4),
    rows * Math.ceil(cols / groupSize),
    rows * Math.ceil(cols / groupSize),
  );
  new Float32Array(k.memory.buffer, w, n).set(W.subarray(0, n));
  new Float32Array(k.memory.buffer, sc, cols).set(s);
  scaledQuantizeIn(k, pool !== null, { w, sc, out, codes, scales, zeros }, rows, cols, groupSize, rtnMode(variant, sym), bits);
  const result = new Float32Array(k.memory.buffer, out, n);
  if (!into) return result.slice();
  into.set(result);
  return into;
}

/** The module's `scaledQuantize` on regions laid out in `k`'s memory, rows shared with the helper threads when `shared`. */
function scaledQuantizeIn(
  k: CpuKernels,
  shared: boolean,
  at: { w: number; sc: number; out: number; codes: number; scales: number; zeros: number },
  rows: number,
  cols: number,
  groupSize: number,
  mode: number,
  bits: number,
): void {
  const groups = Math.ceil(cols / groupSize);
  if (!shared || rows * cols < MIN_SHARED_QUANT) {
    k.scaledQuantize(at.w, rows, cols, at.sc, groupSize, mode, bits, at.out, at.codes, at.scales, at.zeros);
    return;
  }
  runShared(
    'scaledQuantize',
    rowShares(rows, 1).map(([r0, n]) => [
      at.w + r0 * cols * 4,
      n,
      cols,
      at.sc,
      groupSize,
      mode,
      bits,
      at.out + r0 * cols * 4,
      at.codes + r0 * cols,
      at.scales + r0 * groups * 4,
      at.zeros + r0 * groups * 4,
    ]),
  );
}

/** Below this many weights a candidate is quantized on the calling thread alone. */
const MIN_SHARED_QUANT = 1 << 16;

/** The operands an AWQ loss left in the module: whose search, in which instance, and where. */
let resident: { owner: object; k: CpuKernels; layouts: number; offsets: number[] } | null = null;

/**
 * AWQ's loss of one linear's candidate scales in the module: Q(W·diag s)·diag s⁻¹ (as
 * `simdScaledFakeQuant`), its outputs X·qᵀ with fp32 sums (as `linearF32Sums`), and Σ of the
 * squared differences from `target` (T × outF) per sample of `perSample` tokens in fp64, the
 * samples' sums added in order (as `squaredErrorF32` sample by sample). Nothing but the sum comes
 * back. `owner` names a search whose candidates share X, W and `target` (unchanged between its
 * calls): while no other call has laid out the module since its last one, they are still where
 * it put them and only the scales go in. Null when the caller must run its own loops.
 */
export function simdAwqLinearLoss(
  X: Float32Array,
  T: number,
  W: Float32Array,
  s: Float32Array,
  outF: number,
  inF: number,
  groupSize: number,
  bits: number,
  variant: 'gptq' | 'awq',
  sym: boolean,
  target: Float32Array,
  perSample: number,
  owner?: object,
): number | null {
  const { k, pool } = kernelsForCall();
  const n = outF * inF;
  if (!k || T < 4 || n < MIN_WORK || T * n < MIN_WORK) return null;
  const groups = Math.ceil(inF / groupSize);
  const kept = owner !== undefined && resident?.owner === owner && resident.k === k && resident.layouts === layouts;
  const offsets = kept
    ? resident!.offsets
    : layout(k, T * inF, n, inF, n, Math.ceil(n / 4), outF * groups, outF * groups, Math.ceil(outF / 4) * 4 * inF, T * outF, T * outF);
  const [x, w, sc, out, codes, scales, zeros, w4, y, t] = offsets;
  if (!kept) {
    put(k, x, X, 0, inF, T, inF);
    new Float32Array(k.memory.buffer, w, n).set(W.subarray(0, n));
    new Float32Array(k.memory.buffer, t, T * outF).set(target.subarray(0, T * outF));
    resident = owner ? { owner, k, layouts, offsets } : null;
  }
  new Float32Array(k.memory.buffer, sc, inF).set(s);
  scaledQuantizeIn(k, pool !== null, { w, sc, out, codes, scales, zeros }, outF, inF, groupSize, rtnMode(variant, sym), bits);
  k.interleave4(out, outF, inF, w4);
  if (pool && T >= 8 && T * n >= MIN_SHARED_WORK) sharedLinear('linear32', x, w4, T, inF, outF, y);
  else k.linear32(x, w4, T, inF, outF, y);
  return k.squaredErrorSums(y, t, T * outF, perSample * outF);
}

/**
 * One pass of AWQ's clip search (`awqClipSearch`) in the module: `rows` rows of one group (`len`
 * columns of W from `w0`, leading dimension `ld`) clamped to each of their `steps` maxima
 * (`maxima`, rows × steps), quantized as one group each, every candidate and the unclipped row
 * against the `T` sampled tokens' inputs `slab` (T × len), and the squared errors summed; only
 * the errors (rows × steps) come back. Null when the caller must run its own loops.
 */
export function simdClipErrors(
  slab: Float32Array,
  T: number,
  W: Float32Array,
  w0: number,
  ld: number,
  rows: number,
  len: number,
  maxima: Float32Array,
  steps: number,
  bits: number,
  variant: 'gptq' | 'awq',
  sym: boolean,
): Float32Array | null {
  const { k, pool } = kernelsForCall();
  const C = rows * (1 + steps);
  if (!k || T < 4 || T * len * C < MIN_WORK) return null;
  const n = rows * steps;
  const [x, cand, max, w4, dots, errs, codes, scales, zeros] = layout(
    k,
    T * len,
    C * len,
    n,
    Math.ceil(C / 4) * 4 * len,
    T * C,
    n,
    Math.ceil((n * len) / 4),
    n,
    n,
  );
  put(k, x, slab, 0, len, T, len);
  put(k, cand, W, w0, ld, rows, len);
  new Float32Array(k.memory.buffer, max, n).set(maxima.subarray(0, n));
  const clipped = cand + rows * len * 4;
  k.clampRows(cand, rows, len, steps, max, clipped);
  // Each clipped candidate is a group of its own, quantized in place.
  k.quantizeRtn(clipped, n, len, len, rtnMode(variant, sym), bits, clipped, codes, scales, zeros);
  k.interleave4(cand, C, len, w4);
  if (pool && T >= 8 && T * len * C >= MIN_SHARED_WORK) sharedLinear('linear32', x, w4, T, len, C, dots);
  else k.linear32(x, w4, T, len, C, dots);
  k.clipErrors(dots, T, rows, steps, errs);
  return new Float32Array(k.memory.buffer, errs, n).slice();
}
