import { ConfigFields, UnsupportedModelError, isObject, show, type Json } from './config-fields';
import type { RopeScaling, RopeSpec } from './spec';

export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

/**
 * One RoPE description, `{ rope_type | type, factor, … }` (transformers 4.x `rope_scaling`, or
 * one entry of transformers 5 `rope_parameters`), into its scaling; `key` names it in errors.
 */
export function readRopeScaling(f: ConfigFields, key: string, params: Json): RopeScaling | null {
  const type = params.rope_type ?? params.type ?? 'default';
  if (type === 'default') return null;
  const num = (name: string, fallback?: number): number => {
    const v = params[name];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      f.fail(key, `needs a positive number "${name}" for RoPE type ${show(type)}`, params);
    }
    return v as number;
  };
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    const low = num('low_freq_factor');
    const high = num('high_freq_factor');
    if (!(high > low)) f.fail(key, 'needs high_freq_factor > low_freq_factor', params);
    const original =
      params.original_max_position_embeddings ?? (f.get('original_max_position_embeddings') as number | undefined) ?? undefined;
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: low,
      highFreqFactor: high,
      originalMaxPositions: num('original_max_position_embeddings', typeof original === 'number' ? original : undefined),
    };
  }
  throw new UnsupportedModelError(
    `${f.source}: field "${key}" asks for RoPE scaling type ${show(type)}, which Compressed Trust Lab does not implement ` +
      `(supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`,
  );
}

/**
 * The RoPE of a layer kind from either layout: transformers 4.x (`rope_theta` + `rope_scaling`
 * at the top level) or transformers 5 (`rope_parameters`, flat or keyed by layer type as
 * `{ full_attention: {…}, sliding_attention: {…} }`).
 */
export function readRope(f: ConfigFields, opts: { layerType?: 'full_attention' | 'sliding_attention'; defaultTheta: number }): RopeSpec {
  const v5 = f.optionalObject('rope_parameters');
  if (v5) {
    const nested = opts.layerType && isObject(v5[opts.layerType]) ? (v5[opts.layerType] as Json) : null;
    const params = nested ?? v5;
    const key = nested ? `rope_parameters.${opts.layerType}` : 'rope_parameters';
    return {
      theta: f.positiveNumber('rope_theta', opts.defaultTheta, params.rope_theta ?? f.get('rope_theta')),
      scaling: readRopeScaling(f, key, params),
    };
  }
  const scaling = f.optionalObject('rope_scaling');
  return {
    theta: f.positiveNumber('rope_theta', opts.defaultTheta),
    scaling: scaling ? readRopeScaling(f, 'rope_scaling', scaling) : null,
  };
}
