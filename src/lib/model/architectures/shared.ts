import type { ConfigFields } from '../config-fields';

/** Fields of Llama-style configs that would change the maths; refused rather than dropped silently. */
export function refuseLlamaExtras(f: ConfigFields, act = 'hidden_act'): void {
  f.refuseUnless(act, (v) => v === 'silu', 'only "silu" (SwiGLU) is supported');
  f.refuseUnless('mlp_bias', (v) => v === false, 'biased MLP projections are not supported');
}
