/** One decoder graph under construction: the per-layer builders (norms, attention with RoPE and KV cache, MLP) over a GraphBuilder. */
import { ropeInvFreq } from '../model/rope';
import { layerRope, type ModelSpec, type RopeSpec } from '../model/spec';
import { GraphBuilder } from './graph-builder';
import { float16Checked } from './float16';
import { blocksPerRow, zeroPointRowBytes, type PackedLinear } from './matmul-nbits';
import {
  TO_FLOAT16,
  TO_FLOAT,
  MASKED,
  ROPE_TABLE_SPLIT,
  checkSpec,
  toGetter,
  type WeightSource,
  type AsyncWeightSource,
  type DecoderGraphOptions,
  type BlockTap,
} from './decoder-options';

/** Everything the layer-building code shares between the full model and the single block. */
export class DecoderContext {
  private readonly getWeight: (name: string) => Float32Array | Promise<Float32Array> | undefined;
  private readonly getPacked: (name: string) => PackedLinear | undefined;

  constructor(
    readonly b: GraphBuilder,
    readonly spec: ModelSpec,
    weights: WeightSource | AsyncWeightSource,
    readonly options: DecoderGraphOptions,
  ) {
    checkSpec(spec);
    this.getWeight = toGetter<Float32Array | Promise<Float32Array>>(weights);
    const packed = options.linear === 'matmulnbits' ? options.packed : undefined;
    if (options.linear === 'matmulnbits' && !packed) throw new Error(`linear 'matmulnbits' needs packed weights`);
    this.getPacked = packed ? toGetter(packed) : () => undefined;
  }

  /**
   * Runs `use` on the weight `name` once it is at hand (synchronously for an in-memory source,
   * so the synchronous `build()` keeps working), after checking its size.
   */
  withTensor<T>(name: string, count: number, use: (w: Float32Array) => T): T | Promise<T> {
    const check = (w: Float32Array | undefined): T => {
      if (!w) throw new Error(`missing weight ${name}`);
      if (w.length !== count) throw new Error(`${name}: expected ${count} values, got ${w.length}`);
      return use(w);
    };
    const got = this.getWeight(name);
    return got instanceof Promise ? got.then(check) : check(got);
  }

  /** An fp32 weight initializer copied as is, read from the source only at build time. */
  plainWeight(name: string, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.b.weightBytes(name, 'float32', dims, () =>
      this.withTensor(name, count, (w) => new Uint8Array(w.buffer, w.byteOffset, w.byteLength)),
    );
  }

  get half(): boolean {
    return this.options.precision === 'fp16';
  }

  /** fp32 → fp16 around a half-precision op: `op(cast16(x))` back to fp32. */
  private inHalf(x: string, op: (x16: string) => string): string {
    const { b } = this;
    return b.op('Cast', [op(b.op('Cast', [x], { to: TO_FLOAT16 }))], { to: TO_FLOAT });
  }

  /**
   * A weight stored in the graph's precision; with `transpose` [outF, inF] the source Linear
   * weight is written as its [inF, outF] transpose, straight into the external data.
   */
  private storedWeight(graphName: string, source: string, dims: number[], transpose?: [number, number]): string {
    const count = dims.reduce((a, d) => a * d, 1);
    if (!this.half && !transpose) return this.plainWeight(source, dims);
    const half = this.half;
    const type = half ? 'float16' : 'float32';
    return this.b.weight(half ? `${graphName}.fp16` : graphName, type, dims, (dst) =>
      this.withTensor(source, count, (w) => {
        const out = half ? new Uint16Array(dst.buffer, dst.byteOffset, count) : new Float32Array(dst.buffer, dst.byteOffset, count);
        const put = half ? (k: number, j: number) => (out[k] = float16Checked(w[j], source, j)) : (k: number, j: number) => (out[k] = w[j]);
        if (!transpose) {
          for (let j = 0; j < count; j++) put(j, j);
          return;
        }
        const [outF, inF] = transpose;
        for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) put(i * outF + o, o * inF + i);
      }),
    );
  }

  /** `x @ W.T (+ bias)` for the Linear `prefix` (weight [outF, inF]). */
  linear(x: string, prefix: string, outF: number, inF: number, bias = false): string {
    const { b } = this;
    const weightName = `${prefix}.weight`;
    const packed = this.getPacked(weightName);
    let y: string;
    if (packed) {
      y = this.half
        ? this.inHalf(x, (x16) => this.matMulNBits(x16, prefix, packed, outF, inF))
        : this.matMulNBits(x, prefix, packed, outF, inF);
    } else {
      // The transposed [inF, outF] copy, written straight into the external data.
      const wt = this.storedWeight(`${weightName}.T`, weightName, [inF, outF], [outF, inF]);
      y = this.half ? this.inHalf(x, (x16) => b.op('MatMul', [x16, wt])) : b.op('MatMul', [x, wt]);
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
      this.half
        ? b.weight(`${prefix}.scales.fp16`, 'float16', [N * blocks], (dst) => {
            const out = new Uint16Array(dst.buffer, dst.byteOffset, N * blocks);
            for (let i = 0; i < out.length; i++) out[i] = float16Checked(p.scales[i], `${prefix}.scales`, i);
          })
        : b.weight(`${prefix}.scales`, 'float32', [N * blocks], (dst) =>
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

  /**
   * x / sqrt(mean(x²) + eps) · (offset + w) over the last axis (`size` wide); Gemma's offset of 1
   * is added to the initializer once, in fp32 as Hugging Face does.
   */
  rmsNorm(x: string, weightName: string, size = this.spec.hiddenSize): string {
    const { b, spec } = this;
    const meanSq = b.op('ReduceMean', [b.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const rms = b.op('Sqrt', [b.op('Add', [meanSq, b.f32(spec.rmsNormEps)])]);
    const offset = spec.block.normOffset;
    const w =
      offset === 0
        ? this.plainWeight(weightName, [size])
        : b.weight(`${weightName}.plus${offset}`, 'float32', [size], (dst) =>
            this.withTensor(weightName, size, (src) => {
              const out = new Float32Array(dst.buffer, dst.byteOffset, size);
              for (let i = 0; i < size; i++) out[i] = src[i] + offset;
            }),
          );
    return b.op('Mul', [b.op('Div', [x, rms]), w]);
  }

  /** x·sigmoid(x), or GELU's tanh form as x·sigmoid(2z) (= ½x(1 + tanh z)), which avoids a Tanh kernel. */
  activation(x: string): string {
    const { b } = this;
    if (this.spec.block.activation === 'silu') return b.op('Mul', [x, b.op('Sigmoid', [x])]);
    const x3 = b.op('Mul', [b.op('Mul', [x, x]), x]);
    const z2 = b.op('Mul', [b.op('Add', [x, b.op('Mul', [x3, b.f32(0.044715)])]), b.f32(2 * Math.sqrt(2 / Math.PI))]);
    return b.op('Mul', [x, b.op('Sigmoid', [z2])]);
  }

  /** cap·tanh(x/cap), written as cap·(2·sigmoid(2x/cap) − 1). */
  softcap(x: string, cap: number): string {
    const { b } = this;
    const s = b.op('Sigmoid', [b.op('Mul', [x, b.f32(2 / cap)])]);
    return b.op('Mul', [b.op('Sub', [b.op('Mul', [s, b.f32(2)]), b.f32(1)]), b.f32(cap)]);
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
  rope(positionIds: string, ropeSpec: RopeSpec, scope = 'rope'): { cos: string; sin: string } {
    const { b, spec } = this;
    return b.scoped(scope, () => {
      const half = spec.headDim / 2;
      const invFreq = ropeInvFreq(spec.headDim, ropeSpec);
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
   * `attentionMask` [batch, kv_len] is given, where the key is padding; with `window`, also
   * where the key lies `window` or more positions back.
   */
  maskBias(qLen: string, kvLen: string, attentionMask?: string, window?: number): string {
    const { b } = this;
    return b.scoped(window ? 'sliding_mask' : 'mask', () => {
      const zero = b.i64(0);
      const one = b.i64(1);
      const rows = b.op('Range', [b.op('Sub', [kvLen, qLen]), kvLen, one]);
      const cols = b.op('Range', [zero, kvLen, one]);
      const colsRow = b.op('Unsqueeze', [cols, b.i64([0])]);
      const rowsCol = b.op('Unsqueeze', [rows, b.i64([1])]);
      let blocked = b.op('Greater', [colsRow, rowsCol]); // [q, kv]
      if (window) {
        const tooOld = b.op('Greater', [b.op('Sub', [rowsCol, colsRow]), b.i64(window - 1)]);
        blocked = b.op('Or', [blocked, tooOld]);
      }
      if (attentionMask) {
        const padding = b.op('Unsqueeze', [b.op('Equal', [attentionMask, zero]), b.i64([1])]); // [batch, 1, kv]
        blocked = b.op('Or', [blocked, padding]); // [batch, q, kv]
      }
      const bias = b.op('Where', [blocked, b.f32(MASKED), b.f32(0)]);
      return b.op('Unsqueeze', [bias, b.i64(attentionMask ? [1, 2] : [0, 1, 2])]);
    });
  }

  /**
   * The RoPE tables and mask bias of each layer, built once per distinct RoPE / window;
   * `mask(window)` makes a causal bias, limited to the last `window` positions when given.
   */
  layerInputs(positionIds: string, mask: (window?: number) => string): (layer: number) => LayerInputs {
    const ropes = new Map<RopeSpec, { cos: string; sin: string }>();
    const masks = new Map<number, string>();
    return (layer) => {
      const r = layerRope(this.spec, layer);
      if (!ropes.has(r)) ropes.set(r, this.rope(positionIds, r, ropes.size === 0 ? 'rope' : `rope_${ropes.size}`));
      const window = this.spec.layerKinds[layer] === 'sliding' && this.spec.slidingWindow !== null ? this.spec.slidingWindow : 0;
      if (!masks.has(window)) masks.set(window, mask(window || undefined));
      return { rope: ropes.get(r)!, mask: masks.get(window)! };
    };
  }

  /** Per-head RMSNorm over head_dim (Qwen3, Gemma 3), x [batch, heads, seq, D]. */
  private headNorm(x: string, name: string): string {
    return this.spec.block.qkNorm ? this.rmsNorm(x, name, this.spec.headDim) : x;
  }

  /** One decoder layer. Returns the residual stream after it, the present K/V and the linear inputs. */
  layer(
    i: number,
    x: string,
    inputs: LayerInputs,
    cache?: {
      pastKey: string;
      pastValue: string;
      prefixKey?: string;
      prefixValue?: string;
      presentKey: string;
      presentValue: string;
      newKey?: string;
      newValue?: string;
    },
  ): { out: string; taps: Record<BlockTap, string>; key: string; value: string } {
    const { b, spec } = this;
    const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I } = spec;
    const { norms, attnScale, attnSoftcap } = spec.block;
    const rep = NH / KVH;
    const p = `model.layers.${i}`;
    const { rope } = inputs;
    return b.scoped(`layers.${i}`, () => {
      const attnIn = this.rmsNorm(x, `${p}.${norms.attnIn}.weight`);
      const attnOut = b.scoped('attn', () => {
        const heads = (y: string, n: number): string =>
          b.op('Transpose', [b.op('Reshape', [y, b.i64([0, 0, n, D])])], { perm: [0, 2, 1, 3] });
        const proj = (name: string, n: number): string => heads(this.linear(attnIn, `${p}.self_attn.${name}`, n * D, H, spec.qkvBias), n);
        const q = this.applyRope(this.headNorm(proj('q_proj', NH), `${p}.self_attn.q_norm.weight`), rope);
        let k = this.applyRope(this.headNorm(proj('k_proj', KVH), `${p}.self_attn.k_norm.weight`), rope);
        let v = proj('v_proj', KVH);
        if (cache?.newKey && cache.newValue) {
          b.op('Identity', [k], {}, cache.newKey);
          b.op('Identity', [v], {}, cache.newValue);
        }
        if (cache) {
          k = b.op('Concat', [cache.pastKey, k], { axis: 2 }, cache.presentKey);
          v = b.op('Concat', [cache.pastValue, v], { axis: 2 }, cache.presentValue);
        }
        // GQA without copying K/V: queries grouped as [batch, kv_heads, rep, q, D] against
        // K/V [batch, kv_heads, 1, kv, D], broadcast by MatMul. Query head h uses KV head h / rep.
        const qg = b.op('Reshape', [q, b.i64([0, KVH, rep, -1, D])]);
        const transposed = (t: string) => b.op('Unsqueeze', [b.op('Transpose', [t], { perm: [0, 1, 3, 2] }), b.i64([2])]);
        let dots = b.op('MatMul', [qg, transposed(k)]);
        let values = v;
        if (cache?.prefixKey && cache.prefixValue) {
          // The shared prefix's keys, one copy broadcast over the batch, come before each row's.
          // Each score is the same dot product as over one concatenated cache, and the values
          // are concatenated, so a row computes exactly what it would with the prefix in its past.
          dots = b.op('Concat', [b.op('MatMul', [qg, transposed(cache.prefixKey)]), dots], { axis: -1 });
          const rows = b.op('Concat', [b.op('Shape', [v], { start: 0, end: 1 }), b.i64([1, 1, 1])], { axis: 0 });
          values = b.op('Concat', [b.op('Expand', [cache.prefixValue, rows]), v], { axis: 2 });
        }
        let raw = b.op('Mul', [dots, b.f32(attnScale)]);
        if (attnSoftcap !== null) raw = this.softcap(raw, attnSoftcap);
        const scores = b.op('Add', [raw, inputs.mask]);
        const probs = b.op('Softmax', [scores], { axis: -1 });
        const ctx = b.op('MatMul', [probs, b.op('Unsqueeze', [values, b.i64([2])])]); // [batch, kv_heads, rep, q, D]
        const merged = b.op('Transpose', [b.op('Reshape', [ctx, b.i64([0, NH, -1, D])])], { perm: [0, 2, 1, 3] });
        return { k, v, oIn: b.op('Reshape', [merged, b.i64([0, 0, NH * D])]) };
      });
      let attnResult = this.linear(attnOut.oIn, `${p}.self_attn.o_proj`, H, NH * D);
      if (norms.attnOut) attnResult = this.rmsNorm(attnResult, `${p}.${norms.attnOut}.weight`);
      const h = b.op('Add', [x, attnResult]);
      const mlpIn = this.rmsNorm(h, `${p}.${norms.mlpIn}.weight`);
      const mlp = b.scoped('mlp', () => {
        const gate = this.linear(mlpIn, `${p}.mlp.gate_proj`, I, H);
        const up = this.linear(mlpIn, `${p}.mlp.up_proj`, I, H);
        const act = b.op('Mul', [this.activation(gate), up]);
        let out = this.linear(act, `${p}.mlp.down_proj`, H, I);
        if (norms.mlpOut) out = this.rmsNorm(out, `${p}.${norms.mlpOut}.weight`);
        return { act, out };
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

  /** The token embeddings of `inputIds`, scaled where the family scales them. */
  embed(inputIds: string): string {
    const { b } = this;
    const gathered = b.op('Gather', [this.embedding(), inputIds], { axis: 0 });
    const x = this.half ? b.op('Cast', [gathered], { to: TO_FLOAT }) : gathered;
    const scale = this.spec.block.embedScale;
    return scale === 1 ? x : b.op('Mul', [x, b.f32(scale)]);
  }

  /** logits = norm(x) @ lm_head.T; a tied head reuses the embedding through Gemm(transB) instead of a transposed copy. */
  lmHead(x: string): string {
    const { b, spec } = this;
    const { hiddenSize: H, vocabSize: V } = spec;
    const cap = spec.block.finalSoftcap;
    const normed = this.rmsNorm(x, 'model.norm.weight');
    return b.scoped('lm_head', () => {
      const name = cap === null ? 'logits' : undefined;
      let logits: string;
      if (!spec.tiedEmbeddings || this.getPacked('lm_head.weight')) {
        logits = b.op('Identity', [this.linear(normed, 'lm_head', V, H)], {}, name);
      } else {
        const flat = b.op('Reshape', [normed, b.i64([-1, H])]);
        const logits2d = this.half
          ? this.inHalf(flat, (f16) => b.op('Gemm', [f16, this.embedding()], { transB: 1 }))
          : b.op('Gemm', [flat, this.embedding()], { transB: 1 });
        const shape = b.op('Concat', [b.op('Shape', [x], { start: 0, end: 2 }), b.i64([V])], { axis: 0 });
        logits = b.op('Reshape', [logits2d, shape], {}, name);
      }
      return cap === null ? logits : b.op('Identity', [this.softcap(logits, cap)], {}, 'logits');
    });
  }

  private embeddingName?: string;
  embedding(): string {
    const name = 'model.embed_tokens.weight';
    this.embeddingName ??= this.storedWeight(name, name, [this.spec.vocabSize, this.spec.hiddenSize]);
    return this.embeddingName;
  }
}

interface LayerInputs {
  rope: { cos: string; sin: string };
  mask: string;
}
