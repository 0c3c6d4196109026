import type { ConfigFields, Json } from '../config-fields';
import type { BlockSpec, LayerKind, RopeSpec } from '../spec';

/** The shape fields every family shares, read before the family's own. */
export interface CommonShape {
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** What a family reads from its config beyond the common shape. */
export interface FamilyFields {
  block: BlockSpec;
  rope: RopeSpec;
  localRope: RopeSpec | null;
  layerKinds: LayerKind[];
  slidingWindow: number | null;
  qkvBias: boolean;
}

/**
 * One architecture family: which configs it claims, the class defaults for fields a config may
 * omit, and how its block departs from Llama's. The graph builder, the TypeScript block forward,
 * the weight store and the compressors read only the `ModelSpec` this produces.
 */
export interface ArchitectureFamily {
  /** Stored as `ModelSpec.modelType`. */
  id: string;
  /** `model_type` values this family reads. */
  modelTypes: readonly string[];
  /** Causal-LM class names accepted in `architectures`; the first is the default. */
  architectures: readonly string[];
  /** Hugging Face's class defaults for fields a config may omit, applied before reading. */
  defaults: Json;
  /** The object holding the text model's fields (multimodal configs nest it), default the config itself. */
  textConfig?(config: Json): Json;
  /** Checkpoint tensor-name prefixes that stand for `model.` (a multimodal wrapper's text model). */
  tensorPrefixes?: readonly string[];
  read(f: ConfigFields, shape: CommonShape): FamilyFields;
}
