import { llamaBlock } from '../spec';
import type { ArchitectureFamily } from './family';
import { qwenLayerKinds } from './qwen2';
import { llamaStyleFields } from './shared';

/** Qwen3 (dense): per-head RMSNorm on q and k before RoPE, an explicit head_dim, no qkv bias. */
export const qwen3: ArchitectureFamily = {
  id: 'qwen3',
  modelTypes: ['qwen3'],
  architectures: ['Qwen3ForCausalLM'],
  defaults: { head_dim: 128, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  read(f, shape) {
    return llamaStyleFields(f, shape, qwenLayerKinds(f, shape.numLayers), { block: { ...llamaBlock(shape.headDim), qkNorm: true } });
  },
};
