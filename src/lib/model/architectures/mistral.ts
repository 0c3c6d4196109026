import { llamaBlock } from '../spec';
import { readRope } from '../rope-config';
import type { ArchitectureFamily } from './family';
import { readLayerKinds } from './layer-kinds';
import { refuseLlamaExtras } from './shared';

/** Mistral: Llama's block; a `sliding_window` makes every layer slide. */
export const mistral: ArchitectureFamily = {
  id: 'mistral',
  modelTypes: ['mistral'],
  architectures: ['MistralForCausalLM'],
  defaults: { sliding_window: 4096, max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  read(f, shape) {
    refuseLlamaExtras(f);
    const slides = f.has('sliding_window');
    return {
      block: llamaBlock(shape.headDim),
      rope: readRope(f, { defaultTheta: 10000 }),
      localRope: null,
      ...readLayerKinds(f, shape.numLayers, () => (slides ? 'sliding' : 'full')),
      qkvBias: f.bool('attention_bias', false),
    };
  },
};
