/**
 * A plain TypeScript forward pass of a Llama-family decoder (fp32 storage, double accumulation,
 * one sequence, no KV cache). Slow; a test oracle for the ONNX graphs on small models.
 */
import { ropeInvFreq } from '../../src/lib/model/rope';
import type { ModelSpec } from '../../src/lib/model/spec';
import { checkSpec, type BlockTap, type WeightSource } from '../../src/lib/onnx/decoder';

export type ReferenceBlockOutputs = Record<BlockTap | 'out', Float32Array>;

function getter(weights: WeightSource): (name: string, count: number) => Float32Array {
  return (name, count) => {
    const w = typeof weights === 'function' ? weights(name) : weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    if (w.length !== count) throw new Error(`${name}: expected ${count} values, got ${w.length}`);
    return w;
  };
}

/** y [S, outF] = x [S, inF] · Wᵀ (+ bias), W [outF, inF]. */
export function linearRef(x: Float32Array, w: Float32Array, S: number, inF: number, outF: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(S * outF);
  for (let s = 0; s < S; s++) {
    const xo = s * inF;
    for (let o = 0; o < outF; o++) {
      const wo = o * inF;
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[xo + i] * w[wo + i];
      y[s * outF + o] = acc;
    }
  }
  return y;
}

export function rmsNormRef(x: Float32Array, w: Float32Array, S: number, H: number, eps: number): Float32Array {
  const y = new Float32Array(S * H);
  for (let s = 0; s < S; s++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[s * H + i] ** 2;
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) y[s * H + i] = x[s * H + i] * inv * w[i];
  }
  return y;
}

/** In place: rotate each head of x [S, heads·D] by its position (Hugging Face rotate_half). */
function ropeRef(x: Float32Array, S: number, heads: number, D: number, positions: readonly number[], invFreq: Float32Array): void {
  const half = D / 2;
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < half; j++) {
      // Exact angle from Hugging Face's fp32 inverse frequencies (HF also rounds the angle to
      // fp32, which only matters at large positions; the graph's tables do not round it).
      const angle = positions[s] * invFreq[j];
      const c = Math.cos(angle);
      const sn = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const base = s * heads * D + h * D;
        const a = x[base + j];
        const b2 = x[base + j + half];
        x[base + j] = a * c - b2 * sn;
        x[base + j + half] = b2 * c + a * sn;
      }
    }
  }
}

/**
 * Decoder layer `layer` on hidden [S, hidden] at `positions` (causal attention), returning the
 * layer output and the input of each linear layer (the same taps as `buildDecoderBlock`).
 */
export function referenceBlock(
  spec: ModelSpec,
  layer: number,
  weights: WeightSource,
  hidden: Float32Array,
  positions: readonly number[],
): ReferenceBlockOutputs {
  checkSpec(spec);
  const { block } = spec;
  if (block.normOffset !== 0 || block.qkNorm || block.norms.attnOut || block.activation !== 'silu' || spec.layerKinds.includes('sliding')) {
    throw new Error(`the reference block covers Llama's block only, not ${spec.modelType}'s`);
  }
  const get = getter(weights);
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I, rmsNormEps: eps } = spec;
  const S = positions.length;
  if (hidden.length !== S * H) throw new Error(`hidden: expected ${S * H} values, got ${hidden.length}`);
  const p = `model.layers.${layer}`;
  const lin = (x: Float32Array, name: string, inF: number, outF: number, bias: boolean): Float32Array =>
    linearRef(x, get(`${p}.${name}.weight`, outF * inF), S, inF, outF, bias ? get(`${p}.${name}.bias`, outF) : undefined);

  const attnIn = rmsNormRef(hidden, get(`${p}.input_layernorm.weight`, H), S, H, eps);
  const q = lin(attnIn, 'self_attn.q_proj', H, NH * D, spec.qkvBias);
  const k = lin(attnIn, 'self_attn.k_proj', H, KVH * D, spec.qkvBias);
  const v = lin(attnIn, 'self_attn.v_proj', H, KVH * D, spec.qkvBias);
  const invFreq = ropeInvFreq(D, spec.rope);
  ropeRef(q, S, NH, D, positions, invFreq);
  ropeRef(k, S, KVH, D, positions, invFreq);

  const attn = new Float32Array(S * NH * D);
  const scale = 1 / Math.sqrt(D);
  const rep = NH / KVH;
  const scores = new Float64Array(S);
  for (let h = 0; h < NH; h++) {
    const kvh = Math.floor(h / rep);
    for (let i = 0; i < S; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[i * NH * D + h * D + d] * k[j * KVH * D + kvh * D + d];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += scores[j] = Math.exp(scores[j] - max);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j <= i; j++) acc += scores[j] * v[j * KVH * D + kvh * D + d];
        attn[i * NH * D + h * D + d] = acc / sum;
      }
    }
  }
  const o = lin(attn, 'self_attn.o_proj', NH * D, H, false);
  const h1 = new Float32Array(S * H);
  for (let i = 0; i < h1.length; i++) h1[i] = hidden[i] + o[i];
  const mlpIn = rmsNormRef(h1, get(`${p}.post_attention_layernorm.weight`, H), S, H, eps);
  const gate = lin(mlpIn, 'mlp.gate_proj', H, I, false);
  const up = lin(mlpIn, 'mlp.up_proj', H, I, false);
  const act = new Float32Array(S * I);
  for (let i = 0; i < act.length; i++) act[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
  const down = lin(act, 'mlp.down_proj', I, H, false);
  const out = new Float32Array(S * H);
  for (let i = 0; i < out.length; i++) out[i] = h1[i] + down[i];
  return { out, q_proj_in: attnIn, o_proj_in: attn, gate_proj_in: mlpIn, down_proj_in: act };
}

export interface ReferenceForwardResult {
  /** [S, vocab] */
  logits: Float32Array;
  /** The input of each layer, [S, hidden] each (index numLayers: the input of the final norm). */
  hiddenStates: Float32Array[];
}

/** Logits for `ids` (one sequence) at positions 0…S−1 unless `positions` is given. */
export function referenceForward(
  spec: ModelSpec,
  weights: WeightSource,
  ids: readonly number[],
  positions?: readonly number[],
): ReferenceForwardResult {
  const get = getter(weights);
  const { hiddenSize: H, vocabSize: V } = spec;
  const S = ids.length;
  const pos = positions ?? ids.map((_, i) => i);
  const embed = get('model.embed_tokens.weight', V * H);
  let x: Float32Array = new Float32Array(S * H);
  ids.forEach((id, s) => {
    if (!(id >= 0 && id < V)) throw new Error(`token id ${id} out of range`);
    x.set(embed.subarray(id * H, (id + 1) * H), s * H);
  });
  const hiddenStates = [x];
  for (let l = 0; l < spec.numLayers; l++) {
    x = referenceBlock(spec, l, weights, x, pos).out;
    hiddenStates.push(x);
  }
  const normed = rmsNormRef(x, get('model.norm.weight', H), S, H, spec.rmsNormEps);
  const head = spec.tiedEmbeddings ? embed : get('lm_head.weight', V * H);
  return { logits: linearRef(normed, head, S, H, V), hiddenStates };
}

/** Mean negative log-likelihood (nats) of ids[1…] given the logits [S, vocab] of ids[0…S−2]. */
export function meanNextTokenNll(logits: Float32Array, ids: readonly number[], vocab: number): number {
  let total = 0;
  for (let s = 0; s + 1 < ids.length; s++) {
    const row = logits.subarray(s * vocab, (s + 1) * vocab);
    let max = -Infinity;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += max + Math.log(sum) - row[ids[s + 1]];
  }
  return total / (ids.length - 1);
}
