import attentionWgsl from '../../../shaders/attention.wgsl?raw';
import elementwiseWgsl from '../../../shaders/elementwise.wgsl?raw';
import gridWgsl from '../../../shaders/grid.wgsl?raw';
import rmsnormWgsl from '../../../shaders/rmsnorm.wgsl?raw';
import ropeWgsl from '../../../shaders/rope.wgsl?raw';
import { encodeGemm } from './gemm';
import type { Recorder } from './kernel';
import { GRID_FIELDS } from './limits';
import { defineParams } from './params';
import { composeWgsl } from './shader';

/**
 * The steps of a decoder block's forward pass as WGSL launchers (recorded into a `Recorder`,
 * on buffers the caller owns), each with its TypeScript reference: fp32 values in the
 * kernel's operation order, so a browser test can hold the two close. The composed forward is
 * `block-forward.ts`.
 */

const f = Math.fround;
const WG = 64;
const groups = (items: number) => Math.ceil(items / WG);

export const NORM_PARAMS = defineParams({ rows: 'u32', width: 'u32', ...GRID_FIELDS, eps: 'f32', offset: 'f32' });
const NORM_WGSL = composeWgsl(NORM_PARAMS.wgsl, gridWgsl, rmsnormWgsl);

export interface NormArgs<B> {
  x: B;
  gamma: B;
  y: B;
  rows: number;
  width: number;
  eps: number;
  offset: number;
}

export function encodeRmsNorm(rec: Recorder, a: NormArgs<GPUBuffer>, maxDim: number): void {
  rec.dispatchRange(NORM_WGSL, NORM_PARAMS, { rows: a.rows, width: a.width, eps: a.eps, offset: a.offset }, groups(a.rows), maxDim, [
    { kind: 'read', buffer: a.x },
    { kind: 'read', buffer: a.gamma },
    { kind: 'readwrite', buffer: a.y },
  ]);
}

export function rmsNormReference(a: NormArgs<Float32Array>): void {
  for (let r = 0; r < a.rows; r++) {
    const at = r * a.width;
    let ss = 0;
    for (let i = 0; i < a.width; i++) ss = f(ss + f(a.x[at + i] * a.x[at + i]));
    const inv = f(1 / f(Math.sqrt(f(f(ss / a.width) + f(a.eps)))));
    for (let i = 0; i < a.width; i++) a.y[at + i] = f(f(a.x[at + i] * inv) * f(f(a.offset) + a.gamma[i]));
  }
}

export const ROPE_PARAMS = defineParams({ rows: 'u32', heads: 'u32', half: 'u32', seq_len: 'u32', ...GRID_FIELDS });
const ROPE_WGSL = composeWgsl(ROPE_PARAMS.wgsl, gridWgsl, ropeWgsl);

export interface RopeArgs<B> {
  /** [rows, heads · 2·half], rotated in place. */
  x: B;
  /** [seqLen, half] each. */
  cos: B;
  sin: B;
  rows: number;
  heads: number;
  half: number;
  seqLen: number;
}

export function encodeRope(rec: Recorder, a: RopeArgs<GPUBuffer>, maxDim: number): void {
  rec.dispatchRange(
    ROPE_WGSL,
    ROPE_PARAMS,
    { rows: a.rows, heads: a.heads, half: a.half, seq_len: a.seqLen },
    groups(a.rows * a.heads * a.half),
    maxDim,
    [
      { kind: 'read', buffer: a.cos },
      { kind: 'read', buffer: a.sin },
      { kind: 'readwrite', buffer: a.x },
    ],
  );
}

export function ropeReference(a: RopeArgs<Float32Array>): void {
  const D = 2 * a.half;
  for (let r = 0; r < a.rows; r++) {
    const pos = r % a.seqLen;
    for (let h = 0; h < a.heads; h++) {
      for (let j = 0; j < a.half; j++) {
        const c = a.cos[pos * a.half + j];
        const s = a.sin[pos * a.half + j];
        const at = r * a.heads * D + h * D + j;
        const x0 = a.x[at];
        const x1 = a.x[at + a.half];
        a.x[at] = f(f(x0 * c) - f(x1 * s));
        a.x[at + a.half] = f(f(x1 * c) + f(x0 * s));
      }
    }
  }
}

/** The attention kernel's private accumulator holds this many values per head. */
export const ATTENTION_MAX_HEAD_DIM = 256;

export const ATTENTION_PARAMS = defineParams({
  rows: 'u32',
  seq_len: 'u32',
  nh: 'u32',
  kvh: 'u32',
  d: 'u32',
  window: 'u32',
  ...GRID_FIELDS,
  scale: 'f32',
  softcap: 'f32',
});
const ATTENTION_WGSL = composeWgsl(ATTENTION_PARAMS.wgsl, gridWgsl, attentionWgsl);

export interface AttentionArgs<B> {
  q: B;
  k: B;
  v: B;
  out: B;
  /** Samples × seqLen. */
  rows: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Keys a query sees, itself included; 0: all before it. */
  window: number;
  scale: number;
  /** 0: no soft-capping. */
  softcap: number;
}

export function encodeAttention(rec: Recorder, a: AttentionArgs<GPUBuffer>, maxDim: number): void {
  if (a.headDim > ATTENTION_MAX_HEAD_DIM) throw new Error(`attention kernel: head dimension ${a.headDim} above ${ATTENTION_MAX_HEAD_DIM}`);
  if (a.heads % a.kvHeads !== 0) throw new Error(`attention kernel: ${a.heads} heads over ${a.kvHeads} KV heads`);
  rec.dispatchRange(
    ATTENTION_WGSL,
    ATTENTION_PARAMS,
    {
      rows: a.rows,
      seq_len: a.seqLen,
      nh: a.heads,
      kvh: a.kvHeads,
      d: a.headDim,
      window: a.window,
      scale: a.scale,
      softcap: a.softcap,
    },
    groups(a.rows * a.heads),
    maxDim,
    [
      { kind: 'read', buffer: a.q },
      { kind: 'read', buffer: a.k },
      { kind: 'read', buffer: a.v },
      { kind: 'readwrite', buffer: a.out },
    ],
  );
}

export function attentionReference(a: AttentionArgs<Float32Array>): void {
  const { heads: NH, kvHeads: KVH, headDim: D } = a;
  const acc = new Float32Array(D);
  const scale = f(a.scale);
  const cap = f(a.softcap);
  for (let row = 0; row < a.rows; row++) {
    const i = row % a.seqLen;
    const firstRow = row - i;
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / (NH / KVH));
      const qo = row * NH * D + h * D;
      const first = a.window > 0 && i + 1 > a.window ? i + 1 - a.window : 0;
      acc.fill(0);
      let m = f(-3e38);
      let l = 0;
      for (let j = first; j <= i; j++) {
        const ko = (firstRow + j) * KVH * D + kvh * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot = f(dot + f(a.q[qo + d] * a.k[ko + d]));
        let sc = f(dot * scale);
        if (cap > 0) sc = f(cap * f(Math.tanh(Math.min(10, Math.max(-10, f(sc / cap))))));
        const mNew = Math.max(m, sc);
        const corr = f(Math.exp(f(m - mNew)));
        const e = f(Math.exp(f(sc - mNew)));
        l = f(f(l * corr) + e);
        for (let d = 0; d < D; d++) acc[d] = f(f(acc[d] * corr) + f(e * a.v[ko + d]));
        m = mNew;
      }
      for (let d = 0; d < D; d++) a.out[qo + d] = f(acc[d] / l);
    }
  }
}

export const ELEMENTWISE_PARAMS = defineParams({ n: 'u32', cols: 'u32', act: 'u32', ...GRID_FIELDS });
const ELEMENTWISE_WGSL = composeWgsl(ELEMENTWISE_PARAMS.wgsl, gridWgsl, elementwiseWgsl);

export type Activation = 'silu' | 'gelu_tanh';

function elementwise(
  rec: Recorder,
  entry: 'add' | 'add_bias' | 'gate' | 'row_sqerr',
  v: { n: number; cols?: number; act?: number },
  x: GPUBuffer,
  y: GPUBuffer,
  maxDim: number,
  z?: GPUBuffer,
): void {
  rec.dispatchRange(
    ELEMENTWISE_WGSL,
    ELEMENTWISE_PARAMS,
    { n: v.n, cols: v.cols ?? 1, act: v.act ?? 0 },
    groups(v.n),
    maxDim,
    [{ kind: 'read', buffer: x }, { kind: 'readwrite', buffer: y }, ...(z ? [{ kind: 'read' as const, buffer: z }] : [])],
    entry,
  );
}

/** y[0 … n) += x. */
export function encodeAdd(rec: Recorder, x: GPUBuffer, y: GPUBuffer, n: number, maxDim: number): void {
  elementwise(rec, 'add', { n }, x, y, maxDim);
}

export function addReference(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = f(y[i] + x[i]);
}

/** y [rows, cols] += bias on every row. */
export function encodeAddBias(rec: Recorder, bias: GPUBuffer, y: GPUBuffer, rows: number, cols: number, maxDim: number): void {
  elementwise(rec, 'add_bias', { n: rows * cols, cols }, bias, y, maxDim);
}

export function addBiasReference(bias: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows * cols; i++) y[i] = f(y[i] + bias[i % cols]);
}

/** gate[0 … n) = act(gate) · up. */
export function encodeGate(rec: Recorder, up: GPUBuffer, gate: GPUBuffer, n: number, act: Activation, maxDim: number): void {
  elementwise(rec, 'gate', { n, act: act === 'silu' ? 0 : 1 }, up, gate, maxDim);
}

export function gateReference(up: Float32Array, gate: Float32Array, n: number, act: Activation): void {
  const k = f(0.7978845608028654);
  const c = f(0.044715);
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const a =
      act === 'silu'
        ? f(g / f(1 + f(Math.exp(-g))))
        : f(f(f(0.5 * g) * f(1 + f(Math.tanh(Math.min(10, Math.max(-10, f(k * f(g + f(f(f(c * g) * g) * g))))))))));
    gate[i] = f(a * up[i]);
  }
}

/** out[r] = Σ_c (a[r, c] − b[r, c])² over `rows` rows of `cols`. */
export function encodeRowSquaredError(
  rec: Recorder,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  rows: number,
  cols: number,
  maxDim: number,
): void {
  elementwise(rec, 'row_sqerr', { n: rows, cols }, a, out, maxDim, b);
}

export function rowSquaredErrorReference(a: Float32Array, b: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let e = 0;
    for (let c = 0; c < cols; c++) {
      const d = f(a[r * cols + c] - b[r * cols + c]);
      e = f(e + f(d * d));
    }
    out[r] = e;
  }
}

/**
 * y [rows, outF] = x [rows, inF] · Wᵀ, given Wᵀ ([inF, outF] row-major, transposed once on
 * upload): neighbouring invocations of the GEMM then read neighbouring columns of B, which a
 * hardware GPU coalesces (read as W, each would stride by inF).
 */
export function encodeLinear(
  rec: Recorder,
  x: GPUBuffer,
  w: GPUBuffer,
  y: GPUBuffer,
  rows: number,
  inF: number,
  outF: number,
  maxDim: number,
): void {
  // The GEMM computes alpha·C + beta·AB: a reused buffer may hold an inf from an earlier
  // candidate, and 0·inf would poison the result, so C starts from zeros.
  rec.clear(y, 0, rows * outF * 4);
  encodeGemm(
    rec,
    {
      m: rows,
      n: outF,
      k: inF,
      a: { buf: x, off: 0, rs: inF, cs: 1 },
      b: { buf: w, off: 0, rs: outF, cs: 1 },
      c: { buf: y, off: 0, rs: outF },
      alpha: 0,
      beta: 1,
    },
    maxDim,
  );
}
