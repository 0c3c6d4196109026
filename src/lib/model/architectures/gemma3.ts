import { isObject, type Json } from '../config-fields';
import { readRope } from '../rope-config';
import type { ArchitectureFamily } from './family';
import { readLayerKinds } from './layer-kinds';

/**
 * Gemma 3 text models: embeddings × √hidden, RMSNorm × (1 + w), norms before and after both
 * attention and MLP, per-head q/k norms, GELU-tanh gated MLP, attention scaled by
 * query_pre_attn_scalar^-½, sliding-window layers (own RoPE base) interleaved with global ones,
 * tied embeddings. `gemma3` (the multimodal wrapper) contributes its `text_config`.
 */
export const gemma3: ArchitectureFamily = {
  id: 'gemma3',
  modelTypes: ['gemma3_text', 'gemma3'],
  architectures: ['Gemma3ForCausalLM', 'Gemma3ForConditionalGeneration'],
  defaults: {
    head_dim: 256,
    num_key_value_heads: 4,
    max_position_embeddings: 131072,
    rms_norm_eps: 1e-6,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10000,
    query_pre_attn_scalar: 256,
    sliding_window: 4096,
    sliding_window_pattern: 6,
    hidden_activation: 'gelu_pytorch_tanh',
    tie_word_embeddings: true,
  },
  textConfig(config: Json): Json {
    if (config.model_type !== 'gemma3') return config;
    const text = isObject(config.text_config) ? config.text_config : {};
    // The wrapper keeps token ids and tying at its own level.
    const outer: Json = {};
    for (const k of ['bos_token_id', 'eos_token_id', 'tie_word_embeddings', 'torch_dtype', 'dtype']) if (k in config) outer[k] = config[k];
    return { ...outer, ...text, model_type: 'gemma3', architectures: config.architectures };
  },
  tensorPrefixes: ['language_model.model.', 'model.language_model.'],
  read(f, shape) {
    f.refuseUnless('hidden_activation', (v) => v === 'gelu_pytorch_tanh' || v === 'gelu_tanh', 'Gemma 3 needs "gelu_pytorch_tanh"');
    const pattern = f.optionalInt('sliding_window_pattern', 6);
    const kinds = readLayerKinds(f, shape.numLayers, (i) => ((i + 1) % pattern === 0 ? 'full' : 'sliding'));
    const localTheta = f.positiveNumber('rope_local_base_freq', 10000);
    const v5 = f.optionalObject('rope_parameters');
    const localRope =
      v5 && isObject(v5.sliding_attention)
        ? readRope(f, { layerType: 'sliding_attention', defaultTheta: localTheta })
        : { theta: localTheta, scaling: null };
    return {
      block: {
        norms: {
          attnIn: 'input_layernorm',
          attnOut: 'post_attention_layernorm',
          mlpIn: 'pre_feedforward_layernorm',
          mlpOut: 'post_feedforward_layernorm',
        },
        normOffset: 1,
        qkNorm: true,
        activation: 'gelu_tanh',
        embedScale: Math.sqrt(f.requiredInt('hidden_size')),
        attnScale: 1 / Math.sqrt(f.positiveNumber('query_pre_attn_scalar', 256)),
        attnSoftcap: f.optionalPositive('attn_logit_softcapping'),
        finalSoftcap: f.optionalPositive('final_logit_softcapping'),
      },
      rope: readRope(f, { layerType: 'full_attention', defaultTheta: 1_000_000 }),
      localRope,
      ...kinds,
      qkvBias: f.bool('attention_bias', false),
    };
  },
};
