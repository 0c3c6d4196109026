import { ropeInvFreq } from '../../model/rope';
import { dotsInOrder } from './blocked';
import { simdLinear, simdLinear32 } from './simd';
import {
  BLOCK_TAPS,
  layerRope,
  linearBiasName,
  linearWeightName,
  normWeightName,
  tapWidth,
  type BlockTap,
  type LinearId,
  type ModelSpec,
  type RopeSpec,
} from '../../model/spec';
import { matrix, type Matrix } from './types';

/**
 * A decoder layer forward pass in TypeScript for the calibration driver: the same function as
 * `buildDecoderBlock` (and `referenceBlock`, its slow oracle), one sequence at a time, fp32
 * storage with double accumulation, and a register-blocked linear (3 tokens × 3 outputs per
 * inner loop). It can stop at the tap a
 * calibration pass needs (GPTQ's true-sequential groups never need the rest of the layer), and
 * exposes the attention and MLP sub-blocks that AWQ's scale search scores candidates on.
 *
 * Layer tensors are keyed without the `model.layers.{i}.` prefix (as `WeightStore.layer`
 * returns them): `self_attn.q_proj.weight`, `input_layernorm.weight`, …
 */
export type LayerTensors = ReadonlyMap<string, Float32Array>;

/** The block output that carries each linear's input. */
export const LINEAR_INPUT: Record<LinearId, BlockTap> = {
  q_proj: 'q_proj_in',
  k_proj: 'q_proj_in',
  v_proj: 'q_proj_in',
  o_proj: 'o_proj_in',
  gate_proj: 'gate_proj_in',
  up_proj: 'gate_proj_in',
  down_proj: 'down_proj_in',
};

/** A linear's weight in `lw` as a matrix [out, in]. */
export function linearWeight(spec: ModelSpec, lw: LayerTensors, l: LinearId, layer: number): Matrix {
  const w = lw.get(linearWeightName(l));
  if (!w) throw new Error(`layer ${layer}: missing ${linearWeightName(l)}`);
  const cols = tapWidth(spec, LINEAR_INPUT[l]);
  return matrix(w.length / cols, cols, w);
}

/** An output of a block pass: a linear's input (a tap), or the layer's output. */
export type BlockOutput = BlockTap | 'out';

/** What a pass up to `until` computes: every tap up to it, and the layer's output for `out`. */
export function outputsUntil(until: BlockOutput): BlockOutput[] {
  return until === 'out' ? [...BLOCK_TAPS, 'out'] : BLOCK_TAPS.slice(0, BLOCK_TAPS.indexOf(until) + 1);
}

export interface BlockOutputs {
  /** The layer output (residual stream after the MLP), [S, hidden]; absent when the pass stopped early. */
  out?: Float32Array;
  q_proj_in?: Float32Array;
  o_proj_in?: Float32Array;
  gate_proj_in?: Float32Array;
  down_proj_in?: Float32Array;
}

/**
 * y [S, outF] = x [S, inF] · Wᵀ (+ bias), W [outF, inF] row-major. Each output is one double
 * sum over i ascending (then rounded to fp32), whatever tile computes it: 3 tokens × 3
 * outputs share their loads (nine accumulators and four operands fit V8's sixteen registers),
 * and the edges left over by the tiling take a plain dot product. With WebAssembly SIMD
 * (`simd.ts`) two outputs share a vector of fp64 lanes instead, with the same sums.
 */
export function linearF32(x: Float32Array, w: Float32Array, S: number, inF: number, outF: number, bias?: Float32Array): Float32Array {
  checkLinear(x, w, S, inF, outF);
  return withBias(simdLinear(x, w, S, inF, outF) ?? linearF32Tiled(x, w, S, inF, outF), bias, S, outF);
}

function checkLinear(x: Float32Array, w: Float32Array, S: number, inF: number, outF: number): void {
  if (x.length < S * inF) throw new Error(`linear: x has ${x.length} values, expected ${S * inF}`);
  if (w.length !== outF * inF) throw new Error(`linear: W has ${w.length} values, expected ${outF * inF}`);
}

function withBias(y: Float32Array, bias: Float32Array | undefined, S: number, outF: number): Float32Array {
  if (bias) {
    for (let t = 0; t < S; t++) for (let o = 0; o < outF; o++) y[t * outF + o] += bias[o];
  }
  return y;
}

function linearF32Tiled(x: Float32Array, w: Float32Array, S: number, inF: number, outF: number): Float32Array {
  const y = new Float32Array(S * outF);
  const S3 = S - (S % 3);
  const O3 = outF - (outF % 3);
  for (let s = 0; s < S3; s += 3) {
    const x0 = s * inF;
    const x1 = x0 + inF;
    const x2 = x1 + inF;
    const y0 = s * outF;
    const y1 = y0 + outF;
    const y2 = y1 + outF;
    for (let o = 0; o < O3; o += 3) {
      const w0 = o * inF;
      const w1 = w0 + inF;
      const w2 = w1 + inF;
      let a00 = 0;
      let a01 = 0;
      let a02 = 0;
      let a10 = 0;
      let a11 = 0;
      let a12 = 0;
      let a20 = 0;
      let a21 = 0;
      let a22 = 0;
      for (let i = 0; i < inF; i++) {
        const p = x[x0 + i];
        const q = x[x1 + i];
        const r = x[x2 + i];
        let u = w[w0 + i];
        a00 += p * u;
        a10 += q * u;
        a20 += r * u;
        u = w[w1 + i];
        a01 += p * u;
        a11 += q * u;
        a21 += r * u;
        u = w[w2 + i];
        a02 += p * u;
        a12 += q * u;
        a22 += r * u;
      }
      y[y0 + o] = a00;
      y[y0 + o + 1] = a01;
      y[y0 + o + 2] = a02;
      y[y1 + o] = a10;
      y[y1 + o + 1] = a11;
      y[y1 + o + 2] = a12;
      y[y2 + o] = a20;
      y[y2 + o + 1] = a21;
      y[y2 + o + 2] = a22;
    }
    for (let t = s; t < s + 3; t++) for (let o = O3; o < outF; o++) y[t * outF + o] = dot(x, t * inF, w, o * inF, inF);
  }
  for (let t = S3; t < S; t++) for (let o = 0; o < outF; o++) y[t * outF + o] = dot(x, t * inF, w, o * inF, inF);
  return y;
}

/** A linear layer y [S, outF] = x [S, inF] · Wᵀ (+ bias): `linearF32`, or `linearF32Sums` where fp32 sums suffice. */
export type LinearFn = (x: Float32Array, w: Float32Array, S: number, inF: number, outF: number, bias?: Float32Array) => Float32Array;

/**
 * `linearF32` with fp32 sums: each output Σ_i f32(x[s][i]·w[o][i]) from 0, i ascending, every
 * addition rounded to fp32. AWQ's search losses use it: they rank candidates by an error orders
 * of magnitude above fp32 rounding (the reference implementation scores them with fp32 BLAS,
 * llm-awq in half precision), and four fp32 lanes per SIMD instruction with an 8-output tile run
 * 2.5–3× faster than the two fp64 lanes of `linearF32`. `dotsInOrder`'s tiles are the SIMD kernel's oracle.
 * `into`, when given, receives the output (a search scoring many candidates reuses one buffer).
 */
export function linearF32Sums(
  x: Float32Array,
  w: Float32Array,
  S: number,
  inF: number,
  outF: number,
  bias?: Float32Array,
  into?: Float32Array,
): Float32Array {
  checkLinear(x, w, S, inF, outF);
  if (into && into.length !== S * outF) throw new Error(`linear: a buffer of ${into.length} for ${S}×${outF} outputs`);
  let y = simdLinear32(x, w, S, inF, outF, into);
  if (!y) {
    y = into ?? new Float32Array(S * outF);
    dotsInOrder(
      x,
      Array.from({ length: S }, (_, t) => t * inF),
      w,
      outF,
      inF,
      y,
      outF,
    );
  }
  return withBias(y, bias, S, outF);
}

function dot(x: Float32Array, xo: number, w: Float32Array, wo: number, n: number): number {
  let a = 0;
  for (let i = 0; i < n; i++) a += x[xo + i] * w[wo + i];
  return a;
}

/** x / sqrt(mean(x²) + eps) · (offset + γ) per row of H (Gemma's offset is 1). */
export function rmsNorm(x: Float32Array, gamma: Float32Array, S: number, H: number, eps: number, offset = 0): Float32Array {
  const y = new Float32Array(S * H);
  for (let s = 0; s < S; s++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[s * H + i] ** 2;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) y[s * H + i] = x[s * H + i] * inv * Math.fround(offset + gamma[i]);
  }
  return y;
}

/** The spec's norm `name` (under the layer, with `.weight`) on x [S, width]. */
function norm(spec: ModelSpec, lw: LayerTensors, name: string, x: Float32Array, S: number, width = spec.hiddenSize): Float32Array {
  return rmsNorm(x, tensor(lw, normWeightName(name), width), S, width, spec.rmsNormEps, spec.block.normOffset);
}

/** SiLU, or GELU's tanh approximation, of one value. */
function activate(spec: ModelSpec, g: number): number {
  if (spec.block.activation === 'silu') return g / (1 + Math.exp(-g));
  return 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)));
}

function tensor(lw: LayerTensors, name: string, count: number): Float32Array {
  const t = lw.get(name);
  if (!t) throw new Error(`missing layer tensor ${name}`);
  if (t.length !== count) throw new Error(`${name}: expected ${count} values, got ${t.length}`);
  return t;
}

const ropeTables = new Map<string, { cos: Float64Array; sin: Float64Array }>();

/** cos / sin of position·invFreq for positions 0…S−1 (double precision, HF's fp32 inverse frequencies). */
export function ropeTable(headDim: number, rope: RopeSpec, S: number): { cos: Float64Array; sin: Float64Array } {
  const key = `${headDim}/${JSON.stringify(rope)}/${S}`;
  let t = ropeTables.get(key);
  if (!t) {
    const half = headDim / 2;
    const inv = ropeInvFreq(headDim, rope);
    const cos = new Float64Array(S * half);
    const sin = new Float64Array(S * half);
    for (let p = 0; p < S; p++) {
      for (let j = 0; j < half; j++) {
        cos[p * half + j] = Math.cos(p * inv[j]);
        sin[p * half + j] = Math.sin(p * inv[j]);
      }
    }
    if (ropeTables.size > 16) ropeTables.clear();
    ropeTables.set(key, (t = { cos, sin }));
  }
  return t;
}

/** In place: per-head RMSNorm over D of x [S, heads·D]. */
function headNorm(spec: ModelSpec, lw: LayerTensors, name: string, x: Float32Array, S: number, heads: number): void {
  const D = spec.headDim;
  x.set(rmsNorm(x, tensor(lw, normWeightName(name), D), S * heads, D, spec.rmsNormEps, spec.block.normOffset));
}

function applyRope(x: Float32Array, S: number, heads: number, D: number, table: { cos: Float64Array; sin: Float64Array }): void {
  const half = D / 2;
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < half; j++) {
      const c = table.cos[s * half + j];
      const sn = table.sin[s * half + j];
      for (let h = 0; h < heads; h++) {
        const base = s * heads * D + h * D;
        const a = x[base + j];
        const b = x[base + j + half];
        x[base + j] = a * c - b * sn;
        x[base + j + half] = b * c + a * sn;
      }
    }
  }
}

/**
 * Self-attention of layer `layer` on one sequence of S tokens at positions 0…S−1 (causal, GQA,
 * sliding window on sliding layers) on the normed input; returns the input of o_proj
 * ([S, heads·D]) and, unless `withOutput` is false, the o_proj output ([S, hidden], before any
 * post-attention norm).
 */
export function attention(
  spec: ModelSpec,
  layer: number,
  lw: LayerTensors,
  normed: Float32Array,
  S: number,
  withOutput = true,
  linear: LinearFn = linearF32,
) {
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D } = spec;
  const lin = (name: LinearId, outF: number): Float32Array =>
    linear(
      normed,
      tensor(lw, linearWeightName(name), outF * H),
      S,
      H,
      outF,
      spec.qkvBias ? tensor(lw, linearBiasName(name), outF) : undefined,
    );
  const q = lin('q_proj', NH * D);
  const k = lin('k_proj', KVH * D);
  const v = lin('v_proj', KVH * D);
  if (spec.block.qkNorm) {
    headNorm(spec, lw, 'self_attn.q_norm', q, S, NH);
    headNorm(spec, lw, 'self_attn.k_norm', k, S, KVH);
  }
  const table = ropeTable(D, layerRope(spec, layer), S);
  applyRope(q, S, NH, D, table);
  applyRope(k, S, KVH, D, table);
  const ctx = new Float32Array(S * NH * D);
  const scale = spec.block.attnScale;
  const cap = spec.block.attnSoftcap;
  const window = spec.layerKinds[layer] === 'sliding' && spec.slidingWindow !== null ? spec.slidingWindow : Infinity;
  const rep = NH / KVH;
  const scores = new Float64Array(S);
  const acc = new Float64Array(D);
  for (let h = 0; h < NH; h++) {
    const kvh = Math.floor(h / rep);
    for (let i = 0; i < S; i++) {
      const qo = i * NH * D + h * D;
      const first = Math.max(0, i - window + 1);
      let max = -Infinity;
      for (let j = first; j <= i; j++) {
        const ko = j * KVH * D + kvh * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        let sc = dot * scale;
        if (cap !== null) sc = cap * Math.tanh(sc / cap);
        scores[j] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      acc.fill(0);
      for (let j = first; j <= i; j++) {
        const e = Math.exp(scores[j] - max);
        sum += e;
        const vo = j * KVH * D + kvh * D;
        for (let d = 0; d < D; d++) acc[d] += e * v[vo + d];
      }
      for (let d = 0; d < D; d++) ctx[qo + d] = acc[d] / sum;
    }
  }
  const out = withOutput ? linear(ctx, tensor(lw, linearWeightName('o_proj'), H * NH * D), S, NH * D, H) : undefined;
  return { oIn: ctx, out };
}

/** Gated MLP on its normed input: returns down_proj's input ([S, I]) and, unless `withOutput` is false, the MLP output (before any post-MLP norm). */
export function mlp(spec: ModelSpec, lw: LayerTensors, mlpIn: Float32Array, S: number, withOutput = true, linear: LinearFn = linearF32) {
  const { hiddenSize: H, intermediateSize: I } = spec;
  const gate = linear(mlpIn, tensor(lw, linearWeightName('gate_proj'), I * H), S, H, I);
  const up = linear(mlpIn, tensor(lw, linearWeightName('up_proj'), I * H), S, H, I);
  for (let i = 0; i < gate.length; i++) {
    gate[i] = activate(spec, gate[i]) * up[i];
  }
  const out = withOutput ? linear(gate, tensor(lw, linearWeightName('down_proj'), H * I), S, I, H) : undefined;
  return { act: gate, out };
}

/**
 * The layer on `hidden` ([S, hidden], one sequence), computed up to `until` (a tap, or `out`
 * for the whole layer); every tap before it is returned too.
 */
export function blockForward(
  spec: ModelSpec,
  layer: number,
  lw: LayerTensors,
  hidden: Float32Array,
  S: number,
  until: BlockTap | 'out' = 'out',
): BlockOutputs {
  const H = spec.hiddenSize;
  if (hidden.length !== S * H) throw new Error(`hidden: expected ${S * H} values, got ${hidden.length}`);
  const { norms } = spec.block;
  const res: BlockOutputs = {};
  const attnIn = norm(spec, lw, norms.attnIn, hidden, S);
  res.q_proj_in = attnIn;
  if (until === 'q_proj_in') return res;
  const attn = attention(spec, layer, lw, attnIn, S, until !== 'o_proj_in');
  res.o_proj_in = attn.oIn;
  if (until === 'o_proj_in') return res;
  const h1 = norms.attnOut ? norm(spec, lw, norms.attnOut, attn.out!, S) : attn.out!;
  for (let i = 0; i < h1.length; i++) h1[i] += hidden[i];
  const mlpIn = norm(spec, lw, norms.mlpIn, h1, S);
  res.gate_proj_in = mlpIn;
  if (until === 'gate_proj_in') return res;
  const m = mlp(spec, lw, mlpIn, S, until !== 'down_proj_in');
  res.down_proj_in = m.act;
  if (until === 'down_proj_in') return res;
  const out = norms.mlpOut ? norm(spec, lw, norms.mlpOut, m.out!, S) : m.out!;
  for (let i = 0; i < out.length; i++) out[i] += h1[i];
  res.out = out;
  return res;
}
