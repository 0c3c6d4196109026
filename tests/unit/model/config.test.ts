import { describe, expect, it } from 'vitest';
import { ModelConfigError, UnsupportedModelError, parseModelSpec, parseModelSpecText } from '../../../src/lib/model/config';
import { llamaBlock } from '../../../src/lib/model/spec';
import { storiesConfig } from './helpers';

// Values as published on the Hugging Face hub (config.json of each checkpoint).
const SMOLLM2_135M_INSTRUCT = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pad_token_id: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
  use_cache: true,
  vocab_size: 49152,
};

const QWEN25_05B_INSTRUCT = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  vocab_size: 50257,
};

const MINIMAL_LLAMA = {
  model_type: 'llama',
  num_hidden_layers: 2,
  hidden_size: 64,
  num_attention_heads: 4,
  intermediate_size: 128,
  vocab_size: 100,
};

/** The error `fn` throws, for checks on its class and message together. */
/** The spec fields of a plain Llama block with unscaled RoPE. */
function plainLlama(theta: number, layers: number, headDim: number) {
  return {
    rope: { theta, scaling: null },
    localRope: null,
    layerKinds: Array.from({ length: layers }, () => 'full'),
    slidingWindow: null,
    block: llamaBlock(headDim),
  };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('parseModelSpec on real checkpoints', () => {
  it('reads the stories260k config', () => {
    expect(parseModelSpec(storiesConfig())).toEqual({
      modelType: 'llama',
      architecture: 'LlamaForCausalLM',
      numLayers: 5,
      hiddenSize: 64,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      intermediateSize: 172,
      vocabSize: 512,
      ...plainLlama(10000, 5, 8),
      rmsNormEps: 1e-5,
      tiedEmbeddings: true,
      qkvBias: false,
      maxPositions: 512,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: 'float32',
    });
  });

  it('reads SmolLM2-135M-Instruct', () => {
    expect(parseModelSpec(SMOLLM2_135M_INSTRUCT)).toEqual({
      modelType: 'llama',
      architecture: 'LlamaForCausalLM',
      numLayers: 30,
      hiddenSize: 576,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      intermediateSize: 1536,
      vocabSize: 49152,
      ...plainLlama(100000, 30, 64),
      rmsNormEps: 1e-5,
      tiedEmbeddings: true,
      qkvBias: false,
      maxPositions: 8192,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: 'bfloat16',
    });
  });

  it('reads a Qwen2 config: qkv bias on, head_dim derived', () => {
    const s = parseModelSpec(QWEN25_05B_INSTRUCT);
    expect(s.modelType).toBe('qwen2');
    expect(s.architecture).toBe('Qwen2ForCausalLM');
    expect(s.qkvBias).toBe(true);
    expect(s.headDim).toBe(64);
    expect(s.numKvHeads).toBe(2);
    expect(s.rope).toEqual({ theta: 1e6, scaling: null });
    expect(s.rmsNormEps).toBe(1e-6);
    expect(s.tiedEmbeddings).toBe(true);
    expect(s.eosTokenIds).toEqual([151645]);
  });

  it('reads a Mistral config: untied, no bias', () => {
    const s = parseModelSpec(MISTRAL_7B_V01);
    expect(s).toMatchObject({
      modelType: 'mistral',
      architecture: 'MistralForCausalLM',
      numLayers: 32,
      hiddenSize: 4096,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 128,
      intermediateSize: 14336,
      tiedEmbeddings: false,
      qkvBias: false,
      maxPositions: 32768,
    });
  });
});

describe('parseModelSpec defaults', () => {
  it('fills Hugging Face class defaults for omitted fields', () => {
    expect(parseModelSpec(MINIMAL_LLAMA)).toEqual({
      modelType: 'llama',
      architecture: 'LlamaForCausalLM',
      numLayers: 2,
      hiddenSize: 64,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 16,
      intermediateSize: 128,
      vocabSize: 100,
      ...plainLlama(10000, 2, 16),
      rmsNormEps: 1e-6,
      tiedEmbeddings: false,
      qkvBias: false,
      maxPositions: 2048,
      bosTokenId: null,
      eosTokenIds: [],
      torchDtype: null,
    });
  });

  it('treats null num_key_value_heads / head_dim as absent', () => {
    const s = parseModelSpec({ ...MINIMAL_LLAMA, num_key_value_heads: null, head_dim: null });
    expect(s.numKvHeads).toBe(4);
    expect(s.headDim).toBe(16);
  });

  it('keeps an explicit head_dim even when heads do not divide hidden', () => {
    const s = parseModelSpec({ ...MINIMAL_LLAMA, hidden_size: 60, num_attention_heads: 8, head_dim: 16 });
    expect(s.headDim).toBe(16);
  });

  it('turns an eos list into an array and honours attention_bias on llama', () => {
    const s = parseModelSpec({ ...MINIMAL_LLAMA, eos_token_id: [2, 7], attention_bias: true });
    expect(s.eosTokenIds).toEqual([2, 7]);
    expect(s.qkvBias).toBe(true);
  });

  it('accepts plain RoPE spelled as rope_scaling {rope_type: "default"} or transformers v5 rope_parameters', () => {
    expect(parseModelSpec({ ...MINIMAL_LLAMA, rope_scaling: { rope_type: 'default' } }).rope).toEqual({ theta: 10000, scaling: null });
    const v5 = { ...MINIMAL_LLAMA, rope_parameters: { rope_type: 'default', rope_theta: 500000 } };
    expect(parseModelSpec(v5).rope).toEqual({ theta: 500000, scaling: null });
  });
});

describe('parseModelSpec refusals', () => {
  it('refuses sizes past any real model before anything is sized from them', () => {
    for (const [key, value] of [
      ['num_hidden_layers', 1_000_000],
      ['vocab_size', 1e9],
      ['max_position_embeddings', 1e12],
      ['hidden_size', 2 ** 20],
      ['intermediate_size', 2 ** 30],
    ] as const) {
      const e = thrown(() => parseModelSpec({ ...SMOLLM2_135M_INSTRUCT, [key]: value }));
      expect(e).toBeInstanceOf(ModelConfigError);
      expect(e.message, key).toMatch(new RegExp(`config.json: field "${key}" is larger than any model this page can hold .*damaged`));
    }
    // the largest real shapes stay accepted
    expect(parseModelSpec({ ...SMOLLM2_135M_INSTRUCT, max_position_embeddings: 1_010_000, vocab_size: 262_144 }).maxPositions).toBe(
      1_010_000,
    );
  });

  it('refuses GPT-2 naming the model_type and architectures', () => {
    const e = thrown(() => parseModelSpec(GPT2));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.name).toBe('UnsupportedModelError');
    expect(e.message).toBe(
      'config.json: Unsupported model_type "gpt2" (architectures: GPT2LMHeadModel). ' +
        'Compressed Trust Lab supports llama, mistral, qwen2, qwen3, gemma3_text, gemma3.',
    );
  });

  it('refuses a missing model_type', () => {
    const { model_type: _, ...rest } = SMOLLM2_135M_INSTRUCT;
    const e = thrown(() => parseModelSpec(rest));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toMatch(/Missing model_type \(architectures: LlamaForCausalLM\)/);
  });

  it('refuses a Llama body under a non-causal-LM head', () => {
    const e = thrown(() => parseModelSpec({ ...SMOLLM2_135M_INSTRUCT, architectures: ['LlamaForSequenceClassification'] }));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toMatch(/LlamaForSequenceClassification/);
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['a string', 'llama'],
    ['a number', 3],
  ])('refuses %s as the config', (_, value) => {
    const e = thrown(() => parseModelSpec(value, 'HuggingFaceTB/x/config.json'));
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e).not.toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toMatch(/^HuggingFaceTB\/x\/config.json: expected a JSON object/);
  });

  it.each(['num_hidden_layers', 'hidden_size', 'num_attention_heads', 'intermediate_size', 'vocab_size'])(
    'names the missing required field %s and the file',
    (key) => {
      const cfg: Record<string, unknown> = { ...MINIMAL_LLAMA };
      delete cfg[key];
      const e = thrown(() => parseModelSpec(cfg, 'my/config.json'));
      expect(e).toBeInstanceOf(ModelConfigError);
      expect(e.message).toBe(`my/config.json: missing required field "${key}"`);
    },
  );

  it.each([0, -4, 1.5, '64', true])('refuses hidden_size = %j', (v) => {
    const e = thrown(() => parseModelSpec({ ...MINIMAL_LLAMA, hidden_size: v }));
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.message).toContain('config.json: field "hidden_size" must be a positive integer');
  });

  it('refuses a non-positive num_key_value_heads or head_dim', () => {
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, num_key_value_heads: 0 })).toThrow(/"num_key_value_heads" must be a positive integer/);
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, head_dim: -1 })).toThrow(/"head_dim" must be a positive integer/);
  });

  it('refuses heads that do not divide hidden when head_dim is absent', () => {
    const e = thrown(() => parseModelSpec({ ...MINIMAL_LLAMA, hidden_size: 100, num_attention_heads: 3 }));
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.message).toMatch(/"hidden_size" \(100\) is not divisible by "num_attention_heads" \(3\)/);
  });

  it('refuses heads that are not a multiple of the KV heads', () => {
    const e = thrown(() => parseModelSpec({ ...SMOLLM2_135M_INSTRUCT, num_key_value_heads: 2 }));
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.message).toMatch(/"num_attention_heads" \(9\) is not a multiple of "num_key_value_heads" \(2\)/);
  });

  it.each([
    [{ rope_type: 'yarn', factor: 4 }, 'yarn'],
    [{ type: 'dynamic', factor: 2 }, 'dynamic'],
    [{ rope_type: 'longrope', factor: 4 }, 'longrope'],
  ])('refuses rope_scaling %j by name, listing the supported types', (scaling, type) => {
    const e = thrown(() => parseModelSpec({ ...MINIMAL_LLAMA, rope_scaling: scaling }));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.message).toContain(`"rope_scaling" asks for RoPE scaling type "${type}"`);
    expect(e.message).toContain('supported: default, linear, llama3');
  });

  it('refuses llama3 scaling without its factors', () => {
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, rope_scaling: { rope_type: 'llama3', factor: 32 } })).toThrow(/low_freq_factor/);
  });

  it('refuses scaled RoPE in transformers v5 rope_parameters', () => {
    const cfg = { ...MINIMAL_LLAMA, rope_parameters: { rope_type: 'dynamic', rope_theta: 10000, factor: 2 } };
    expect(() => parseModelSpec(cfg)).toThrow(UnsupportedModelError);
  });

  it('refuses block variants the graph would get wrong', () => {
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, mlp_bias: true })).toThrow(/"mlp_bias"/);
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, hidden_act: 'gelu' })).toThrow(/"hidden_act" is "gelu"/);
  });

  it('refuses bad numbers and token ids', () => {
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, rms_norm_eps: 0 })).toThrow(/"rms_norm_eps" must be a positive number/);
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, rope_theta: 'big' })).toThrow(/"rope_theta" must be a positive number/);
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, eos_token_id: [2, 'x'] })).toThrow(/"eos_token_id"/);
    expect(() => parseModelSpec({ ...MINIMAL_LLAMA, tie_word_embeddings: 'yes' })).toThrow(/"tie_word_embeddings"/);
  });
});

describe('parseModelSpecText', () => {
  it('parses text', () => {
    expect(parseModelSpecText(JSON.stringify(SMOLLM2_135M_INSTRUCT)).numLayers).toBe(30);
  });

  it('names malformed JSON and the file', () => {
    const e = thrown(() => parseModelSpecText('{"model_type": "llama",', 'config.json'));
    expect(e).toBeInstanceOf(ModelConfigError);
    expect(e.message).toMatch(/^malformed JSON in config.json: /);
  });
});

const LLAMA32_1B_INSTRUCT = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 128256,
};

const LLAMA3_SCALING = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };

describe('RoPE scaling', () => {
  it('reads Llama 3.2 rope_scaling (transformers 4.x layout)', () => {
    const s = parseModelSpec(LLAMA32_1B_INSTRUCT);
    expect(s.rope).toEqual({ theta: 500000, scaling: LLAMA3_SCALING });
    expect(s.eosTokenIds).toEqual([128001, 128008, 128009]);
  });

  it('reads the same from transformers 5 rope_parameters', () => {
    const { rope_scaling, rope_theta, ...rest } = LLAMA32_1B_INSTRUCT;
    const v5 = { ...rest, rope_parameters: { ...rope_scaling, rope_theta } };
    expect(parseModelSpec(v5).rope).toEqual(parseModelSpec(LLAMA32_1B_INSTRUCT).rope);
  });

  it('reads linear scaling spelled with the old "type" key', () => {
    expect(parseModelSpec({ ...MINIMAL_LLAMA, rope_scaling: { type: 'linear', factor: 2 } }).rope.scaling).toEqual({
      type: 'linear',
      factor: 2,
    });
  });
});

const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('Qwen3', () => {
  it('reads q/k norms, an explicit head_dim wider than hidden/heads, no bias, no sliding layers', () => {
    const s = parseModelSpec(QWEN3_06B);
    expect(s).toMatchObject({ modelType: 'qwen3', architecture: 'Qwen3ForCausalLM', headDim: 128, qkvBias: false, slidingWindow: null });
    expect(s.block).toEqual({ ...llamaBlock(128), qkNorm: true });
    expect(s.layerKinds.every((k) => k === 'full')).toBe(true);
  });

  it('slides the layers from max_window_layers on when use_sliding_window is set', () => {
    const s = parseModelSpec({ ...QWEN3_06B, num_hidden_layers: 4, use_sliding_window: true, sliding_window: 64, max_window_layers: 2 });
    expect(s.layerKinds).toEqual(['full', 'full', 'sliding', 'sliding']);
    expect(s.slidingWindow).toBe(64);
  });
});

const GEMMA3_270M = {
  architectures: ['Gemma3ForCausalLM'],
  attention_bias: false,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 640,
  intermediate_size: 2048,
  layer_types: [
    ...['sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
    ...['sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
    ...['sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
  ],
  max_position_embeddings: 32768,
  model_type: 'gemma3_text',
  num_attention_heads: 4,
  num_hidden_layers: 18,
  num_key_value_heads: 1,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 512,
  torch_dtype: 'bfloat16',
  vocab_size: 262144,
};

describe('Gemma 3', () => {
  it('reads the sandwich norms, (1 + w) norms, GELU-tanh, √hidden embeddings and the attention scalar', () => {
    const s = parseModelSpec(GEMMA3_270M);
    expect(s.modelType).toBe('gemma3');
    expect(s.tiedEmbeddings).toBe(true); // Gemma's class default
    expect(s.block).toEqual({
      norms: {
        attnIn: 'input_layernorm',
        attnOut: 'post_attention_layernorm',
        mlpIn: 'pre_feedforward_layernorm',
        mlpOut: 'post_feedforward_layernorm',
      },
      normOffset: 1,
      qkNorm: true,
      activation: 'gelu_tanh',
      embedScale: Math.sqrt(640),
      attnScale: 1 / 16,
      attnSoftcap: null,
      finalSoftcap: null,
    });
  });

  it('reads layer_types, the window, and a separate RoPE base for local layers', () => {
    const s = parseModelSpec(GEMMA3_270M);
    expect(s.layerKinds.filter((k) => k === 'full').length).toBe(3);
    expect(s.layerKinds[5]).toBe('full');
    expect(s.slidingWindow).toBe(512);
    expect(s.rope).toEqual({ theta: 1e6, scaling: null });
    expect(s.localRope).toEqual({ theta: 10000, scaling: null });
  });

  it('derives the layer kinds from the older sliding_window_pattern', () => {
    const { layer_types: _, ...old } = GEMMA3_270M;
    const s = parseModelSpec({ ...old, num_hidden_layers: 7, sliding_window_pattern: 3 });
    expect(s.layerKinds).toEqual(['sliding', 'sliding', 'full', 'sliding', 'sliding', 'full', 'sliding']);
  });

  it('reads transformers 5 rope_parameters keyed by layer type', () => {
    const { rope_theta: _t, rope_local_base_freq: _l, rope_scaling: _s, ...rest } = GEMMA3_270M;
    const s = parseModelSpec({
      ...rest,
      rope_parameters: {
        full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 },
        sliding_attention: { rope_type: 'default', rope_theta: 10000 },
      },
    });
    expect(s.rope).toEqual({ theta: 1e6, scaling: { type: 'linear', factor: 8 } });
    expect(s.localRope).toEqual({ theta: 10000, scaling: null });
  });

  it('reads the text part of a multimodal gemma3 config', () => {
    const { architectures: _a, model_type: _m, bos_token_id: _b, eos_token_id: _e, ...text } = GEMMA3_270M;
    const s = parseModelSpec({
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: { ...text, model_type: 'gemma3_text' },
      vision_config: { model_type: 'siglip_vision_model' },
      eos_token_id: [1, 106],
    });
    expect(s).toMatchObject({ modelType: 'gemma3', hiddenSize: 640, numLayers: 18, eosTokenIds: [1, 106], tiedEmbeddings: true });
  });

  it('refuses a non-tanh activation', () => {
    expect(() => parseModelSpec({ ...GEMMA3_270M, hidden_activation: 'gelu' })).toThrow(/"hidden_activation" is "gelu"/);
  });
});
