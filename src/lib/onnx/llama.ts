import type { ModelSpec } from '../model/spec';
import { GraphBuilder, type BuiltGraph } from './graph-builder';
import type { ExternalDataOptions } from './external-data';
import { blocksPerRow, zeroPointRowBytes, type PackedLinear } from './matmul-nbits';

/** Hugging Face tensor name → fp32 values (PyTorch layout: Linear weights are [out, in]). */
export type WeightSource = ((name: string) => Float32Array) | ReadonlyMap<string, Float32Array>;
/** Linear weight name (e.g. `model.layers.0.mlp.down_proj.weight`) → MatMulNBits packing, or undefined. */
export type PackedSource = ((name: string) => PackedLinear | undefined) | ReadonlyMap<string, PackedLinear>;

export interface LlamaGraphOptions {
  /**
   * `matmul` (default): fp32 MatMul against the transposed weight. `matmulnbits`: com.microsoft
   * MatMulNBits for every linear that `packed` has an entry for (keyed by the weight's name);
   * linears without one (typically `lm_head`) stay fp32.
   */
  linear?: 'matmul' | 'matmulnbits';
  packed?: PackedSource;
  /** External data settings (file name, chunk size, alignment); `false` keeps weights inline. */
  externalData?: false | ExternalDataOptions;
}

export interface CausalLmGraph extends BuiltGraph {
  /** The chunk count, for `transformers.js_config.use_external_data_format` ({ "model.onnx": n }). */
  externalDataChunks: number;
}

/** Default-domain opset; 17 keeps ReduceMean's `axes` an attribute. */
export const ONNX_OPSET = 17;
const OPSETS = [
  { domain: '', version: ONNX_OPSET },
  { domain: 'com.microsoft', version: 1 },
];

/** Added to attention scores that are masked out; finite so that fully masked rows stay NaN-free. */
const MASKED = -1e30;

/** The graph outputs of `buildDecoderBlock` that carry the input of each linear layer. */
export const BLOCK_TAPS = ['q_proj_in', 'o_proj_in', 'gate_proj_in', 'down_proj_in'] as const;
export type BlockTap = (typeof BLOCK_TAPS)[number];

/** RoPE positions are split as hi·L + lo for the cos/sin tables (see `rope`). */
const ROPE_TABLE_SPLIT = 256;

export function pastKeyName(layer: number, kind: 'key' | 'value'): string {
  return `past_key_values.${layer}.${kind}`;
}
export function presentKeyName(layer: number, kind: 'key' | 'value'): string {
  return `present.${layer}.${kind}`;
}

/** RoPE inverse frequencies as Hugging Face computes them in float32: 1 / theta^(2j/d). */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) out[j] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * j) / headDim))));
  return out;
}

export function checkSpec(spec: ModelSpec): void {
  const { numHeads, numKvHeads, headDim } = spec;
  if (!(numKvHeads > 0 && numHeads % numKvHeads === 0))
    throw new Error(`num_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new Error(`head_dim ${headDim} must be even for RoPE`);
}

function toGetter<T>(src: ((name: string) => T) | ReadonlyMap<string, T>): (name: string) => T | undefined {
  return typeof src === 'function' ? src : (name) => src.get(name);
}

/** Everything the layer-building code shares between the full model and the single block. */
class LlamaContext {
  private readonly getWeight: (name: string) => Float32Array | undefined;
  private readonly getPacked: (name: string) => PackedLinear | undefined;

  constructor(
    readonly b: GraphBuilder,
    readonly spec: ModelSpec,
    weights: WeightSource,
    readonly options: LlamaGraphOptions,
  ) {
    checkSpec(spec);
    this.getWeight = toGetter(weights);
    const packed = options.linear === 'matmulnbits' ? options.packed : undefined;
    if (options.linear === 'matmulnbits' && !packed) throw new Error(`linear 'matmulnbits' needs packed weights`);
    this.getPacked = packed ? toGetter(packed) : () => undefined;
  }

  /** Fetches a weight and checks its size. */
  tensor(name: string, count: number): Float32Array {
    const w = this.getWeight(name);
    if (!w) throw new Error(`missing weight ${name}`);
    if (w.length !== count) throw new Error(`${name}: expected ${count} values, got ${w.length}`);
    return w;
  }

  /** An fp32 weight initializer copied as is, read from the source only at build time. */
  plainWeight(name: string, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.b.weight(name, 'float32', dims, (dst) => {
      const w = this.tensor(name, count);
      dst.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
    });
  }

  /** `x @ W.T (+ bias)` for the Linear `prefix` (weight [outF, inF]). */
  linear(x: string, prefix: string, outF: number, inF: number, bias = false): string {
    const { b } = this;
    const weightName = `${prefix}.weight`;
    const packed = this.getPacked(weightName);
    let y: string;
    if (packed) {
      y = this.matMulNBits(x, prefix, packed, outF, inF);
    } else {
      // The transposed [inF, outF] copy, written straight into the external data.
      const wt = b.weight(`${weightName}.T`, 'float32', [inF, outF], (dst) => {
        const w = this.tensor(weightName, outF * inF);
        const out = new Float32Array(dst.buffer, dst.byteOffset, outF * inF);
        for (let o = 0; o < outF; o++) {
          for (let i = 0; i < inF; i++) out[i * outF + o] = w[o * inF + i];
        }
      });
      y = b.op('MatMul', [x, wt]);
    }
    if (bias) y = b.op('Add', [y, this.plainWeight(`${prefix}.bias`, [outF])]);
    return y;
  }

  private matMulNBits(x: string, prefix: string, p: PackedLinear, N: number, K: number): string {
    const { b } = this;
    if (p.N !== N || p.K !== K) throw new Error(`${prefix}: packed weight is [${p.N}, ${p.K}], expected [${N}, ${K}]`);
    const blocks = blocksPerRow(K, p.blockSize);
    const blob = (p.blockSize * p.bits) / 8;
    if (p.packed.length !== N * blocks * blob)
      throw new Error(`${prefix}: packed has ${p.packed.length} bytes, expected ${N * blocks * blob}`);
    if (p.scales.length !== N * blocks) throw new Error(`${prefix}: ${p.scales.length} scales, expected ${N * blocks}`);
    const inputs = [
      x,
      b.weight(`${prefix}.weight_q${p.bits}`, 'uint8', [N, blocks, blob], (dst) => dst.set(p.packed)),
      b.weight(`${prefix}.scales`, 'float32', [N * blocks], (dst) =>
        dst.set(new Uint8Array(p.scales.buffer, p.scales.byteOffset, p.scales.byteLength)),
      ),
    ];
    if (p.zeroPoints) {
      const zpBytes = N * zeroPointRowBytes(blocks, p.bits);
      if (p.zeroPoints.length !== zpBytes) throw new Error(`${prefix}: ${p.zeroPoints.length} zero point bytes, expected ${zpBytes}`);
      const zp = p.zeroPoints;
      inputs.push(b.weight(`${prefix}.zero_points`, 'uint8', [zpBytes], (dst) => dst.set(zp)));
    }
    return b.op('MatMulNBits', inputs, { K, N, bits: p.bits, block_size: p.blockSize }, undefined, 'com.microsoft');
  }

  /** x / sqrt(mean(x²) + eps) * w over the last axis. */
  rmsNorm(x: string, weightName: string): string {
    const { b, spec } = this;
    const meanSq = b.op('ReduceMean', [b.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const rms = b.op('Sqrt', [b.op('Add', [meanSq, b.f32(spec.rmsNormEps)])]);
    return b.op('Mul', [b.op('Div', [x, rms]), this.plainWeight(weightName, [spec.hiddenSize])]);
  }

  /**
   * cos and sin of the RoPE angles, [batch, 1, seq, head_dim], from int64 position_ids [batch, seq].
   *
   * No Cos/Sin ops: WGSL only promises an absolute error of 2^-11 for them (SwiftShader here is
   * off by 2e-4), which visibly perturbs attention on the WebGPU EP. Instead the position is split
   * as p = hi·L + lo and the angle-addition formulas combine rows of two small tables computed
   * in double precision: cos(p·f) = cos(hi·L·f)·cos(lo·f) − sin(hi·L·f)·sin(lo·f), and likewise
   * for sin, accurate to a few fp32 ulps at any position below max_position_embeddings.
   */
  rope(positionIds: string): { cos: string; sin: string } {
    const { b, spec } = this;
    return b.scoped('rope', () => {
      const half = spec.headDim / 2;
      const invFreq = ropeInvFreq(spec.headDim, spec.ropeTheta);
      const L = ROPE_TABLE_SPLIT;
      const hiRows = Math.max(1, Math.ceil(spec.maxPositions / L));
      const table = (rows: number, step: number, fn: (a: number) => number): string => {
        const t = new Float32Array(rows * half);
        for (let r = 0; r < rows; r++) for (let j = 0; j < half; j++) t[r * half + j] = fn(r * step * invFreq[j]);
        return b.f32Tensor(t, [rows, half]);
      };
      const hi = b.op('Div', [positionIds, b.i64(L)]);
      const lo = b.op('Sub', [positionIds, b.op('Mul', [hi, b.i64(L)])]);
      const gather = (t: string, idx: string): string => b.op('Gather', [t, idx], { axis: 0 }); // [batch, seq, half]
      const cosHi = gather(table(hiRows, L, Math.cos), hi);
      const sinHi = gather(table(hiRows, L, Math.sin), hi);
      const cosLo = gather(table(L, 1, Math.cos), lo);
      const sinLo = gather(table(L, 1, Math.sin), lo);
      const cosHalf = b.op('Sub', [b.op('Mul', [cosHi, cosLo]), b.op('Mul', [sinHi, sinLo])]);
      const sinHalf = b.op('Add', [b.op('Mul', [sinHi, cosLo]), b.op('Mul', [cosHi, sinLo])]);
      const full = (t: string): string => b.op('Unsqueeze', [b.op('Concat', [t, t], { axis: -1 }), b.i64([1])]);
      return { cos: full(cosHalf), sin: full(sinHalf) };
    });
  }

  /** x * cos + rotate_half(x) * sin, x [batch, heads, seq, head_dim]. */
  applyRope(x: string, r: { cos: string; sin: string }): string {
    const { b } = this;
    const half = this.spec.headDim / 2;
    const axis = b.i64([3]);
    const x1 = b.op('Slice', [x, b.i64([0]), b.i64([half]), axis]);
    const x2 = b.op('Slice', [x, b.i64([half]), b.i64([this.spec.headDim]), axis]);
    const rotated = b.op('Concat', [b.op('Neg', [x2]), x1], { axis: 3 });
    return b.op('Add', [b.op('Mul', [x, r.cos]), b.op('Mul', [rotated, r.sin])]);
  }

  /**
   * Additive attention bias [batch|1, 1, 1, q_len, kv_len]: 0 where query i (at absolute
   * position kv_len − q_len + i) may see key j, MASKED where j is in its future or, when
   * `attentionMask` [batch, kv_len] is given, where the key is padding.
   */
  maskBias(qLen: string, kvLen: string, attentionMask?: string): string {
    const { b } = this;
    return b.scoped('mask', () => {
      const zero = b.i64(0);
      const one = b.i64(1);
      const rows = b.op('Range', [b.op('Sub', [kvLen, qLen]), kvLen, one]);
      const cols = b.op('Range', [zero, kvLen, one]);
      let blocked = b.op('Greater', [b.op('Unsqueeze', [cols, b.i64([0])]), b.op('Unsqueeze', [rows, b.i64([1])])]); // [q, kv]
      if (attentionMask) {
        const padding = b.op('Unsqueeze', [b.op('Equal', [attentionMask, zero]), b.i64([1])]); // [batch, 1, kv]
        blocked = b.op('Or', [blocked, padding]); // [batch, q, kv]
      }
      const bias = b.op('Where', [blocked, b.f32(MASKED), b.f32(0)]);
      return b.op('Unsqueeze', [bias, b.i64(attentionMask ? [1, 2] : [0, 1, 2])]);
    });
  }

  /** One decoder layer. Returns the residual stream after it, the present K/V and the linear inputs. */
  layer(
    i: number,
    x: string,
    rope: { cos: string; sin: string },
    maskBias: string,
    cache?: { pastKey: string; pastValue: string; presentKey: string; presentValue: string },
  ): { out: string; taps: Record<BlockTap, string>; key: string; value: string } {
    const { b, spec } = this;
    const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I } = spec;
    const rep = NH / KVH;
    const p = `model.layers.${i}`;
    return b.scoped(`layers.${i}`, () => {
      const attnIn = this.rmsNorm(x, `${p}.input_layernorm.weight`);
      const attnOut = b.scoped('attn', () => {
        const heads = (y: string, n: number): string =>
          b.op('Transpose', [b.op('Reshape', [y, b.i64([0, 0, n, D])])], { perm: [0, 2, 1, 3] });
        const q = this.applyRope(heads(this.linear(attnIn, `${p}.self_attn.q_proj`, NH * D, H, spec.qkvBias), NH), rope);
        let k = this.applyRope(heads(this.linear(attnIn, `${p}.self_attn.k_proj`, KVH * D, H, spec.qkvBias), KVH), rope);
        let v = heads(this.linear(attnIn, `${p}.self_attn.v_proj`, KVH * D, H, spec.qkvBias), KVH);
        if (cache) {
          k = b.op('Concat', [cache.pastKey, k], { axis: 2 }, cache.presentKey);
          v = b.op('Concat', [cache.pastValue, v], { axis: 2 }, cache.presentValue);
        }
        // GQA without copying K/V: queries grouped as [batch, kv_heads, rep, q, D] against
        // K/V [batch, kv_heads, 1, kv, D], broadcast by MatMul. Query head h uses KV head h / rep.
        const qg = b.op('Reshape', [q, b.i64([0, KVH, rep, -1, D])]);
        const kT = b.op('Unsqueeze', [b.op('Transpose', [k], { perm: [0, 1, 3, 2] }), b.i64([2])]);
        const scores = b.op('Add', [b.op('Mul', [b.op('MatMul', [qg, kT]), b.f32(1 / Math.sqrt(D))]), maskBias]);
        const probs = b.op('Softmax', [scores], { axis: -1 });
        const ctx = b.op('MatMul', [probs, b.op('Unsqueeze', [v, b.i64([2])])]); // [batch, kv_heads, rep, q, D]
        const merged = b.op('Transpose', [b.op('Reshape', [ctx, b.i64([0, NH, -1, D])])], { perm: [0, 2, 1, 3] });
        return { k, v, oIn: b.op('Reshape', [merged, b.i64([0, 0, NH * D])]) };
      });
      const h = b.op('Add', [x, this.linear(attnOut.oIn, `${p}.self_attn.o_proj`, H, NH * D)]);
      const mlpIn = this.rmsNorm(h, `${p}.post_attention_layernorm.weight`);
      const mlp = b.scoped('mlp', () => {
        const gate = this.linear(mlpIn, `${p}.mlp.gate_proj`, I, H);
        const up = this.linear(mlpIn, `${p}.mlp.up_proj`, I, H);
        const act = b.op('Mul', [b.op('Mul', [gate, b.op('Sigmoid', [gate])]), up]);
        return { act, out: this.linear(act, `${p}.mlp.down_proj`, H, I) };
      });
      const out = b.op('Add', [h, mlp.out]);
      return {
        out,
        key: attnOut.k,
        value: attnOut.v,
        taps: { q_proj_in: attnIn, o_proj_in: attnOut.oIn, gate_proj_in: mlpIn, down_proj_in: mlp.act },
      };
    });
  }

  /** logits = norm(x) @ lm_head.T; a tied head reuses the embedding through Gemm(transB) instead of a transposed copy. */
  lmHead(x: string, inputIds: string): string {
    const { b, spec } = this;
    const { hiddenSize: H, vocabSize: V } = spec;
    const normed = this.rmsNorm(x, 'model.norm.weight');
    return b.scoped('lm_head', () => {
      if (!spec.tiedEmbeddings || this.getPacked('lm_head.weight')) {
        return b.op('Identity', [this.linear(normed, 'lm_head', V, H)], {}, 'logits');
      }
      const flat = b.op('Reshape', [normed, b.i64([-1, H])]);
      const logits2d = b.op('Gemm', [flat, this.embedding()], { transB: 1 });
      const shape = b.op('Concat', [b.op('Shape', [inputIds]), b.i64([V])], { axis: 0 });
      return b.op('Reshape', [logits2d, shape], {}, 'logits');
    });
  }

  private embeddingName?: string;
  embedding(): string {
    this.embeddingName ??= this.plainWeight('model.embed_tokens.weight', [this.spec.vocabSize, this.spec.hiddenSize]);
    return this.embeddingName;
  }
}

function builderOptions(options: LlamaGraphOptions) {
  return { opsets: OPSETS, externalData: options.externalData ?? {} };
}

/**
 * The full decoder with KV cache, with the I/O transformers.js expects of a decoder-only model:
 * inputs `input_ids`, `attention_mask`, `position_ids` (int64) and `past_key_values.{i}.key|value`
 * [batch_size, kv_heads, past_sequence_length, head_dim]; outputs `logits` [batch, seq, vocab] and
 * `present.{i}.key|value` [batch_size, kv_heads, total_sequence_length, head_dim].
 * (transformers.js builds the empty first cache from these input shapes: the batch dimension must
 * be called `batch_size` and the others fixed numbers.)
 */
export function buildCausalLm(spec: ModelSpec, weights: WeightSource, options: LlamaGraphOptions = {}): CausalLmGraph {
  const b = new GraphBuilder('causal_lm');
  const ctx = new LlamaContext(b, spec, weights, options);
  const { numKvHeads: KVH, headDim: D, vocabSize: V, numLayers } = spec;
  const inputIds = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = b.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pastShape = ['batch_size', KVH, 'past_sequence_length', D];
  const past = Array.from({ length: numLayers }, (_, i) => ({
    key: b.input(pastKeyName(i, 'key'), 'float32', pastShape),
    value: b.input(pastKeyName(i, 'value'), 'float32', pastShape),
  }));

  let x = b.op('Gather', [ctx.embedding(), inputIds], { axis: 0 });
  const rope = ctx.rope(positionIds);
  const seqLen = b.op('Gather', [b.op('Shape', [inputIds]), b.i64(1)], { axis: 0 });
  const totalLen = b.op('Gather', [b.op('Shape', [attentionMask]), b.i64(1)], { axis: 0 });
  const mask = ctx.maskBias(seqLen, totalLen, attentionMask);
  for (let i = 0; i < numLayers; i++) {
    const cache = {
      pastKey: past[i].key,
      pastValue: past[i].value,
      presentKey: presentKeyName(i, 'key'),
      presentValue: presentKeyName(i, 'value'),
    };
    x = ctx.layer(i, x, rope, mask, cache).out;
  }
  ctx.lmHead(x, inputIds);

  b.output('logits', 'float32', ['batch_size', 'sequence_length', V]);
  const presentShape = ['batch_size', KVH, 'total_sequence_length', D];
  for (let i = 0; i < numLayers; i++) {
    b.output(presentKeyName(i, 'key'), 'float32', presentShape);
    b.output(presentKeyName(i, 'value'), 'float32', presentShape);
  }
  const built = b.build({ ...builderOptions(options), metadata: { architecture: spec.architecture, model_type: spec.modelType } });
  return { ...built, externalDataChunks: built.externalData.length };
}

/**
 * One decoder layer for calibration: inputs `hidden_states` [batch, seq, hidden] and
 * `position_ids` [batch, seq] (causal mask only, no cache); outputs `hidden_states_out` and the
 * input of every linear layer: `q_proj_in` (also k/v), `o_proj_in`, `gate_proj_in` (also up),
 * `down_proj_in`.
 */
export function buildDecoderBlock(spec: ModelSpec, layerIndex: number, weights: WeightSource, options: LlamaGraphOptions = {}): BuiltGraph {
  if (!(Number.isInteger(layerIndex) && layerIndex >= 0 && layerIndex < spec.numLayers))
    throw new Error(`layer ${layerIndex} out of range`);
  const b = new GraphBuilder(`decoder_block_${layerIndex}`);
  const ctx = new LlamaContext(b, spec, weights, options);
  const { hiddenSize: H, numHeads: NH, headDim: D, intermediateSize: I } = spec;
  const hidden = b.input('hidden_states', 'float32', ['batch_size', 'sequence_length', H]);
  const positionIds = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const rope = ctx.rope(positionIds);
  const seqLen = b.op('Gather', [b.op('Shape', [hidden]), b.i64(1)], { axis: 0 });
  const mask = ctx.maskBias(seqLen, seqLen);
  const { out, taps } = ctx.layer(layerIndex, hidden, rope, mask);
  b.op('Identity', [out], {}, 'hidden_states_out');
  b.output('hidden_states_out', 'float32', ['batch_size', 'sequence_length', H]);
  const tapWidth: Record<BlockTap, number> = { q_proj_in: H, o_proj_in: NH * D, gate_proj_in: H, down_proj_in: I };
  for (const tap of BLOCK_TAPS) {
    b.op('Identity', [taps[tap]], {}, tap);
    b.output(tap, 'float32', ['batch_size', 'sequence_length', tapWidth[tap]]);
  }
  return b.build(builderOptions(options));
}
