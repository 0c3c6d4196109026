import { parseModelSpec } from '../../../src/lib/model/config';
import { randomWeights } from '../../../src/lib/model/random-model';
import { seededRandom } from '../../../src/lib/util/rng';
import type { ModelSpec } from '../../../src/lib/model/spec';

/** A small Llama-shaped spec with GQA and a width that is not a multiple of the group size. */
export function tinySpec(overrides: Record<string, unknown> = {}): ModelSpec {
  return parseModelSpec({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 32,
    intermediate_size: 72,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 8,
    vocab_size: 64,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    ...overrides,
  });
}

/** Random weights with a few strong input channels, so activation-aware methods have something to find. */
export function tinyWeights(spec: ModelSpec, seed = 5): Map<string, Float32Array> {
  const w = randomWeights(spec, seed);
  const emb = w.get('model.embed_tokens.weight')!;
  for (let v = 0; v < spec.vocabSize; v++) {
    emb[v * spec.hiddenSize + 3] *= 8;
    emb[v * spec.hiddenSize + 17] *= 5;
  }
  return w;
}

export function tinyCalibration(spec: ModelSpec, samples: number, len: number, seed = 9): number[][] {
  const r = seededRandom(seed);
  return Array.from({ length: samples }, () => Array.from({ length: len }, () => 3 + Math.floor(r() * (spec.vocabSize - 3))));
}
