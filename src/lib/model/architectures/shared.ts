import type { ConfigFields } from '../config-fields';
import { readRope } from '../rope-config';
import { llamaBlock, type LayerKind } from '../spec';
import type { CommonShape, FamilyFields } from './family';

/** Fields of Llama-style configs that would change the maths; refused rather than dropped silently. */
export function refuseLlamaExtras(f: ConfigFields, act = 'hidden_act'): void {
  f.refuseUnless(act, (v) => v === 'silu', 'only "silu" (SwiGLU) is supported');
  f.refuseUnless('mlp_bias', (v) => v === false, 'biased MLP projections are not supported');
}

/**
 * The fields of a family that keeps Llama's block (SwiGLU, RMSNorm, RoPE with optional
 * scaling); `layers` are its layer kinds, `overrides` what it changes.
 */
export function llamaStyleFields(
  f: ConfigFields,
  shape: CommonShape,
  layers: { layerKinds: LayerKind[]; slidingWindow: number | null },
  overrides: Partial<FamilyFields> = {},
): FamilyFields {
  refuseLlamaExtras(f);
  return {
    block: llamaBlock(shape.headDim),
    rope: readRope(f, { defaultTheta: 10000 }),
    localRope: null,
    ...layers,
    qkvBias: f.bool('attention_bias', false),
    ...overrides,
  };
}
