import type { ConfigFields } from '../config-fields';
import type { LayerKind } from '../spec';

/**
 * Layer kinds from `layer_types` ("full_attention" / "sliding_attention", transformers ≥ 4.53),
 * else from `fallback(i)`; the window is required as soon as one layer slides.
 */
export function readLayerKinds(
  f: ConfigFields,
  numLayers: number,
  fallback: (layer: number) => LayerKind,
): { layerKinds: LayerKind[]; slidingWindow: number | null } {
  let kinds: LayerKind[];
  const listed = f.get('layer_types');
  if (listed !== undefined && listed !== null) {
    if (!Array.isArray(listed)) f.fail('layer_types', 'must be a list');
    const list = listed as unknown[];
    if (list.length < numLayers) f.fail('layer_types', `must name ${numLayers} layers`);
    kinds = list.slice(0, numLayers).map((t, i) => {
      if (t === 'full_attention') return 'full';
      if (t === 'sliding_attention') return 'sliding';
      return f.fail('layer_types', `entry ${i} must be "full_attention" or "sliding_attention"`, t);
    });
  } else {
    kinds = Array.from({ length: numLayers }, (_, i) => fallback(i));
  }
  if (!kinds.includes('sliding')) return { layerKinds: kinds, slidingWindow: null };
  if (!f.has('sliding_window')) f.fail('sliding_window', 'is needed by the sliding-window layers');
  return { layerKinds: kinds, slidingWindow: f.requiredInt('sliding_window') };
}
