import type { ArchitectureFamily } from './family';
import { readLayerKinds } from './layer-kinds';
import { llamaStyleFields } from './shared';

/** Mistral: Llama's block; a `sliding_window` makes every layer slide. */
export const mistral: ArchitectureFamily = {
  id: 'mistral',
  modelTypes: ['mistral'],
  architectures: ['MistralForCausalLM'],
  defaults: { sliding_window: 4096, max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  read(f, shape) {
    const slides = f.has('sliding_window');
    return llamaStyleFields(
      f,
      shape,
      readLayerKinds(f, shape.numLayers, () => (slides ? 'sliding' : 'full')),
    );
  },
};
