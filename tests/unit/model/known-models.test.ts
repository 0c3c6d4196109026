import { describe, expect, it } from 'vitest';
import { FEATURED_MODELS } from '../../../src/lib/app/model-library';
import { KNOWN_MODELS, formatParams, headDimOf, parameterCountFromConfig, type HubConfig } from '../../../src/lib/model/known-models';

const IDS = [
  'HuggingFaceTB/SmolLM2-135M-Instruct',
  'HuggingFaceTB/SmolLM2-360M-Instruct',
  'HuggingFaceTB/SmolLM2-1.7B-Instruct',
  'Qwen/Qwen2.5-0.5B-Instruct',
  'Qwen/Qwen2.5-1.5B-Instruct',
  'Qwen/Qwen3-0.6B',
  'Qwen/Qwen3-1.7B',
  'meta-llama/Llama-3.2-1B-Instruct',
  'meta-llama/Llama-3.2-3B-Instruct',
  'google/gemma-3-270m-it',
  'google/gemma-3-1b-it',
];

function model(id: string) {
  const m = KNOWN_MODELS.find((k) => k.id === id);
  if (!m) throw new Error(`${id} missing from the catalog`);
  return m;
}

describe('known models', () => {
  it('holds the eleven models once each, every config a decoder we can size', () => {
    expect(KNOWN_MODELS.map((m) => m.id)).toEqual(IDS);
    for (const m of KNOWN_MODELS) {
      expect(m.config.num_attention_heads % (m.config.num_key_value_heads ?? 1)).toBe(0);
      expect(Number.isInteger(headDimOf(m.config))).toBe(true);
      expect(m.shards).toBeGreaterThanOrEqual(1);
      const head = m.lmHeadStored ? m.config.vocab_size * m.config.hidden_size : 0;
      expect(m.bf16Bytes).toBe(2 * (m.params + head));
    }
    expect(KNOWN_MODELS.filter((m) => m.lmHeadStored).map((m) => m.id)).toEqual(['Qwen/Qwen3-0.6B', 'Qwen/Qwen3-1.7B']);
    expect(KNOWN_MODELS.filter((m) => m.shards > 1).map((m) => [m.id, m.shards])).toEqual([
      ['Qwen/Qwen3-1.7B', 2],
      ['meta-llama/Llama-3.2-3B-Instruct', 2],
    ]);
  });

  // Counts the model cards and the releases publish (Gemma 3 1B's from its Keras preset).
  it.each([
    ['HuggingFaceTB/SmolLM2-135M-Instruct', 134.5e6],
    ['HuggingFaceTB/SmolLM2-360M-Instruct', 361.8e6],
    ['HuggingFaceTB/SmolLM2-1.7B-Instruct', 1.711e9],
    ['Qwen/Qwen2.5-0.5B-Instruct', 494e6],
    ['Qwen/Qwen2.5-1.5B-Instruct', 1.54e9],
    ['Qwen/Qwen3-0.6B', 596e6],
    ['Qwen/Qwen3-1.7B', 1.72e9],
    ['meta-llama/Llama-3.2-1B-Instruct', 1.236e9],
    ['meta-llama/Llama-3.2-3B-Instruct', 3.213e9],
    ['google/gemma-3-270m-it', 268e6],
    ['google/gemma-3-1b-it', 999_885_952],
  ])('%s has about %d parameters', (id, published) => {
    expect(Math.abs(model(id).params / published - 1)).toBeLessThan(0.01);
  });

  it('counts tensor by tensor for a small llama config', () => {
    const config: HubConfig = {
      model_type: 'llama',
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      vocab_size: 10,
      tie_word_embeddings: false,
    };
    // embed + lm_head 2·10·8; per layer q 64, k 32, v 32, o 64, mlp 3·128, two norms 16; final norm 8
    expect(parameterCountFromConfig(config)).toBe(160 + 2 * (64 + 32 + 32 + 64 + 384 + 16) + 8);
    expect(parameterCountFromConfig({ ...config, tie_word_embeddings: true })).toBe(80 + 2 * 592 + 8);
  });

  it('adds qwen2 q/k/v biases, qwen3 q/k norms and gemma 3 four norms with tied embeddings by default', () => {
    const base = {
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 4,
      vocab_size: 10,
    };
    const llama = parameterCountFromConfig({ ...base, model_type: 'llama', tie_word_embeddings: true });
    expect(parameterCountFromConfig({ ...base, model_type: 'qwen2', tie_word_embeddings: true })).toBe(llama + 8 + 2 * 4);
    expect(parameterCountFromConfig({ ...base, model_type: 'qwen3', tie_word_embeddings: true })).toBe(llama + 2 * 4);
    expect(parameterCountFromConfig({ ...base, model_type: 'gemma3_text' })).toBe(llama + 2 * 8 + 2 * 4);
  });

  it('offers every known model on the page by hub id with its size', () => {
    const hub = FEATURED_MODELS.filter((c) => c.kind === 'hub');
    expect(hub.map((c) => c.id)).toEqual(IDS.map((id) => `hub:${id}`));
    for (const c of hub) expect(c.detail).toMatch(/^Hugging Face hub · \d+(\.\d\d)?[MB] parameters · [\d.]+ [MG]B$/);
    expect(hub[0]).toMatchObject({ label: 'SmolLM2-135M-Instruct', source: { kind: 'hub', repo: 'HuggingFaceTB/SmolLM2-135M-Instruct' } });
    expect(hub[0].detail).toBe('Hugging Face hub · 135M parameters · 269 MB');
    expect(FEATURED_MODELS.find((c) => c.id === 'hub:meta-llama/Llama-3.2-1B-Instruct')?.detail).toBe(
      'Hugging Face hub · 1.24B parameters · 2.47 GB',
    );
  });

  it('rounds parameter counts like model cards', () => {
    expect(formatParams(134_515_008)).toBe('135M');
    expect(formatParams(1_235_814_400)).toBe('1.24B');
  });
});
