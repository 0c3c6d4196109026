/**
 * Tiny random Hugging Face checkpoints (config.json object + fp32 weights under their HF names) for the
 * features checked against `hf-decoder.ts`. Dimensions are tiny but the structure is that of the real
 * families, and each case is sized so that its feature changes the logits of a ~12-token sequence.
 *
 * To get "the same checkpoint without the feature", call `hfForward(..., { disable })` rather than
 * editing the checkpoint: some features (Gemma's 1 + w norms, its embedding scale) cannot be removed
 * by changing config or weights alone. {@link featuresOf} lists the features each case exercises.
 */
import type { Feature, HfConfig } from './hf-decoder';
import { seededRandom } from '../../src/lib/util/rng';

export type TinyKind = 'llama3-scaling' | 'qwen3' | 'gemma3' | 'gemma3-v5-rope';

export interface TinyCheckpoint {
  config: HfConfig;
  weights: Map<string, Float32Array>;
}

/** Features each tiny case exercises (those whose removal must change its logits). */
export function featuresOf(kind: TinyKind): Feature[] {
  switch (kind) {
    case 'llama3-scaling':
      return ['rope-scaling'];
    case 'qwen3':
      return ['qk-norm'];
    case 'gemma3':
    case 'gemma3-v5-rope':
      return ['rope-scaling', 'qk-norm', 'sliding-window', 'local-rope', 'gemma-norm', 'embed-scale', 'attn-scale'];
  }
}

const HIDDEN = 64;
const HEADS = 4;
const KV_HEADS = 2;
const INTERMEDIATE = 96;
const VOCAB = 160;

function configFor(kind: TinyKind): HfConfig {
  const common = {
    hidden_size: HIDDEN,
    intermediate_size: INTERMEDIATE,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    vocab_size: VOCAB,
    max_position_embeddings: 4096,
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    initializer_range: 0.02,
    use_cache: true,
  };
  switch (kind) {
    case 'llama3-scaling':
      // original_max_position_embeddings 64 puts one frequency in each llama3 band with head_dim 16 and
      // theta 5e5 (wavelengths 6.3 < 64/4, 32 in between, the rest > 64/1); with 16 no frequency would be
      // in the unchanged band, since the highest one always has wavelength 2π > 16/4.
      return {
        ...common,
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        head_dim: 16,
        num_hidden_layers: 2,
        hidden_act: 'silu',
        mlp_bias: false,
        rms_norm_eps: 1e-5,
        rope_theta: 500000,
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
        tie_word_embeddings: false,
      };
    case 'qwen3':
      return {
        ...common,
        architectures: ['Qwen3ForCausalLM'],
        model_type: 'qwen3',
        head_dim: 24, // deliberately ≠ hidden / heads = 16, as in the real Qwen3 models
        num_hidden_layers: 2,
        hidden_act: 'silu',
        rms_norm_eps: 1e-6,
        rope_theta: 1000000,
        rope_scaling: null,
        use_sliding_window: false,
        sliding_window: null,
        max_window_layers: 2,
        tie_word_embeddings: true,
      };
    case 'gemma3':
    case 'gemma3-v5-rope': {
      const gemma = {
        ...common,
        architectures: ['Gemma3ForCausalLM'],
        model_type: 'gemma3_text',
        head_dim: 16,
        num_hidden_layers: 3,
        hidden_activation: 'gelu_pytorch_tanh',
        rms_norm_eps: 1e-6,
        // ≠ head_dim so that a graph scaling scores by 1/sqrt(head_dim) is caught.
        query_pre_attn_scalar: 8,
        sliding_window: 4,
        attn_logit_softcapping: null,
        final_logit_softcapping: null,
        tie_word_embeddings: true,
        pad_token_id: 0,
      };
      if (kind === 'gemma3') {
        // transformers 4.x layout: layer kinds from the pattern (layers 0 and 2 sliding, 1 full).
        return {
          ...gemma,
          sliding_window_pattern: 2,
          rope_theta: 1000000,
          rope_local_base_freq: 10000,
          rope_scaling: { rope_type: 'linear', factor: 8 },
        };
      }
      // transformers 5 layout: explicit layer_types and RoPE parameters nested per layer kind.
      return {
        ...gemma,
        layer_types: ['sliding_attention', 'sliding_attention', 'full_attention'],
        rope_parameters: {
          full_attention: { rope_type: 'linear', rope_theta: 1000000, factor: 8 },
          sliding_attention: { rope_type: 'default', rope_theta: 10000 },
        },
      };
    }
  }
}

export function tinyCheckpoint(kind: TinyKind, seed: number): TinyCheckpoint {
  const config = configFor(kind);
  const rand = seededRandom(seed);
  const weights = new Map<string, Float32Array>();
  // Uniform on ±std·√3 has standard deviation std.
  const uniform = (n: number, std: number, center = 0): Float32Array => {
    const a = std * Math.sqrt(3);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = center + (2 * rand() - 1) * a;
    return out;
  };
  const linear = (name: string, out: number, inDim: number, gain = 1): void =>
    void weights.set(name, uniform(out * inDim, gain / Math.sqrt(inDim)));
  const gemma = config.model_type === 'gemma3_text';
  // Gemma multiplies by (1 + w), so its norm weights sit near 0; the others multiply by w, near 1.
  const normW = (name: string, n: number): void =>
    void weights.set(name, gemma ? uniform(n, 0.2 / Math.sqrt(3)) : uniform(n, 0.2 / Math.sqrt(3), 1));

  const headDim = config.head_dim as number;
  const layers = config.num_hidden_layers as number;
  // Tied heads read logits off the embedding matrix, so std 1 there would give logits of std √hidden and
  // NLLs of tens of nats; 1/√hidden keeps them near 1 (and Gemma's scaled embeddings near std 1, as in
  // the real models). An untied head gets std-1 embeddings and a 1/√hidden head instead.
  const tied = config.tie_word_embeddings !== false;
  weights.set('model.embed_tokens.weight', uniform(VOCAB * HIDDEN, tied ? 1 / Math.sqrt(HIDDEN) : 1));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    normW(p + 'input_layernorm.weight', HIDDEN);
    // Gain 2 on q and k keeps attention far from uniform, so masks and positions matter.
    linear(p + 'self_attn.q_proj.weight', HEADS * headDim, HIDDEN, 2);
    linear(p + 'self_attn.k_proj.weight', KV_HEADS * headDim, HIDDEN, 2);
    linear(p + 'self_attn.v_proj.weight', KV_HEADS * headDim, HIDDEN);
    linear(p + 'self_attn.o_proj.weight', HIDDEN, HEADS * headDim);
    if (kind !== 'llama3-scaling') {
      normW(p + 'self_attn.q_norm.weight', headDim);
      normW(p + 'self_attn.k_norm.weight', headDim);
    }
    normW(p + 'post_attention_layernorm.weight', HIDDEN);
    if (gemma) {
      normW(p + 'pre_feedforward_layernorm.weight', HIDDEN);
      normW(p + 'post_feedforward_layernorm.weight', HIDDEN);
    }
    linear(p + 'mlp.gate_proj.weight', INTERMEDIATE, HIDDEN);
    linear(p + 'mlp.up_proj.weight', INTERMEDIATE, HIDDEN);
    linear(p + 'mlp.down_proj.weight', HIDDEN, INTERMEDIATE);
  }
  normW('model.norm.weight', HIDDEN);
  if (!tied) linear('lm_head.weight', VOCAB, HIDDEN);
  return { config, weights };
}

/** A reproducible token sequence for the tiny checkpoints (ids in [3, vocab), skipping the special ones). */
export function tinyIds(length: number, seed: number, vocab = VOCAB): number[] {
  const rand = seededRandom(seed ^ 0x9e3779b9);
  return Array.from({ length }, () => 3 + Math.floor(rand() * (vocab - 3)));
}
