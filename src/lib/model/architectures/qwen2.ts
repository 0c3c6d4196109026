import type { LayerKind } from '../spec';
import type { ConfigFields } from '../config-fields';
import type { ArchitectureFamily } from './family';
import { readLayerKinds } from './layer-kinds';
import { llamaStyleFields } from './shared';

/** Qwen's optional sliding window: layers from `max_window_layers` on slide when `use_sliding_window` is set. */
export function qwenLayerKinds(f: ConfigFields, numLayers: number) {
  const slides = f.bool('use_sliding_window', false);
  const from = f.optionalInt('max_window_layers', numLayers);
  const kind = (i: number): LayerKind => (slides && i >= from ? 'sliding' : 'full');
  const read = readLayerKinds(f, numLayers, kind);
  // transformers ignores layer_types' sliding entries unless use_sliding_window is on.
  return slides ? read : { layerKinds: read.layerKinds.map((): LayerKind => 'full'), slidingWindow: null };
}

/** Qwen2 / Qwen2.5: Llama's block with a bias on q, k and v. */
export const qwen2: ArchitectureFamily = {
  id: 'qwen2',
  modelTypes: ['qwen2'],
  architectures: ['Qwen2ForCausalLM'],
  defaults: { max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  read(f, shape) {
    return llamaStyleFields(f, shape, qwenLayerKinds(f, shape.numLayers), { qkvBias: true });
  },
};
