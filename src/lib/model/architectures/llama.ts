import type { ArchitectureFamily } from './family';
import { readLayerKinds } from './layer-kinds';
import { llamaStyleFields } from './shared';

/** Llama 1–3.x (SmolLM, TinyLlama, stories): SwiGLU, RMSNorm, RoPE with optional llama3 / linear scaling. */
export const llama: ArchitectureFamily = {
  id: 'llama',
  modelTypes: ['llama'],
  architectures: ['LlamaForCausalLM'],
  defaults: { max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  read(f, shape) {
    return llamaStyleFields(
      f,
      shape,
      readLayerKinds(f, shape.numLayers, () => 'full'),
    );
  },
};
