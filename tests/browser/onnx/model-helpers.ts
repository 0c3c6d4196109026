import type { ModelSpec } from '../../../src/lib/model/spec';
import { BLOCK_LINEARS, llamaBlock } from '../../../src/lib/model/spec';
import { seededRandom } from '../../../src/lib/util/rng';

/** A minimal safetensors reader for F32 files (the real reader lives in src/lib/model). */
export function parseSafetensorsF32(bytes: Uint8Array): Map<string, Float32Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLen;
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: ${t.dtype} is not F32`);
    const [start, end] = t.data_offsets;
    // Copy: the data section need not be 4-byte aligned.
    out.set(name, new Float32Array(bytes.slice(base + start, base + end).buffer));
  }
  return out;
}

export interface HfLlamaConfig {
  architectures: string[];
  model_type: string;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta?: number;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  torch_dtype?: string;
}

/** config.json → ModelSpec, by hand (the real parser lives in src/lib/model). */
export function specFromConfig(c: HfLlamaConfig): ModelSpec {
  return {
    modelType: c.model_type as ModelSpec['modelType'],
    architecture: c.architectures[0],
    numLayers: c.num_hidden_layers,
    hiddenSize: c.hidden_size,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    rope: { theta: c.rope_theta ?? 10000, scaling: null },
    localRope: null,
    layerKinds: Array.from({ length: c.num_hidden_layers }, () => 'full' as const),
    slidingWindow: null,
    block: llamaBlock(c.head_dim ?? c.hidden_size / c.num_attention_heads),
    rmsNormEps: c.rms_norm_eps,
    tiedEmbeddings: c.tie_word_embeddings ?? false,
    qkvBias: c.model_type === 'qwen2' || !!c.attention_bias,
    maxPositions: c.max_position_embeddings,
    bosTokenId: c.bos_token_id ?? null,
    eosTokenIds: c.eos_token_id === undefined ? [] : [c.eos_token_id].flat(),
    torchDtype: c.torch_dtype ?? null,
  };
}

/** A small Llama spec; `theta` sets plain RoPE's base, and layer kinds and block follow the final shape. */
export function tinySpec(overrides: Partial<ModelSpec> & { theta?: number }): ModelSpec {
  const { theta, ...rest } = overrides;
  const base = {
    modelType: 'llama',
    architecture: 'LlamaForCausalLM',
    numLayers: 2,
    hiddenSize: 64,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    intermediateSize: 96,
    vocabSize: 128,
    rope: { theta: theta ?? 10000, scaling: null },
    localRope: null,
    slidingWindow: null,
    rmsNormEps: 1e-5,
    tiedEmbeddings: true,
    qkvBias: false,
    maxPositions: 512,
    bosTokenId: 1,
    eosTokenIds: [2],
    torchDtype: 'float32',
    ...rest,
  };
  return {
    layerKinds: Array.from({ length: base.numLayers }, () => 'full' as const),
    block: llamaBlock(base.headDim),
    ...base,
  };
}

/**
 * Deterministic random weights in Hugging Face naming: uniform with std ≈ 1/√fan_in for linears
 * (so activations keep their scale), norms near 1, embeddings of std ≈ 1.
 */
export function randomWeights(spec: ModelSpec, seed: number): Map<string, Float32Array> {
  const rand = seededRandom(seed);
  const uniform = (n: number, std: number, mean = 0): Float32Array =>
    Float32Array.from({ length: n }, () => mean + (rand() * 2 - 1) * std * Math.sqrt(3));
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I, vocabSize: V } = spec;
  const w = new Map<string, Float32Array>();
  w.set('model.embed_tokens.weight', uniform(V * H, 1));
  const shapes: Record<(typeof BLOCK_LINEARS)[number], [number, number]> = {
    'self_attn.q_proj': [NH * D, H],
    'self_attn.k_proj': [KVH * D, H],
    'self_attn.v_proj': [KVH * D, H],
    'self_attn.o_proj': [H, NH * D],
    'mlp.gate_proj': [I, H],
    'mlp.up_proj': [I, H],
    'mlp.down_proj': [H, I],
  };
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    w.set(`${p}.input_layernorm.weight`, uniform(H, 0.2, 1));
    w.set(`${p}.post_attention_layernorm.weight`, uniform(H, 0.2, 1));
    for (const name of BLOCK_LINEARS) {
      const [out, inF] = shapes[name];
      // q and k a little larger so that attention is not uniform.
      const gain = name === 'self_attn.q_proj' || name === 'self_attn.k_proj' ? 2 : 1;
      w.set(`${p}.${name}.weight`, uniform(out * inF, gain / Math.sqrt(inF)));
    }
    if (spec.qkvBias) {
      for (const name of ['q_proj', 'k_proj', 'v_proj'])
        w.set(`${p}.self_attn.${name}.bias`, uniform(shapes[`self_attn.${name}` as 'self_attn.q_proj'][0], 0.5));
    }
  }
  w.set('model.norm.weight', uniform(H, 0.2, 1));
  if (!spec.tiedEmbeddings) w.set('lm_head.weight', uniform(V * H, 1 / Math.sqrt(H)));
  return w;
}

/** Seeded token ids in [3, vocab). */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(rand() * (vocab - 3)));
}
