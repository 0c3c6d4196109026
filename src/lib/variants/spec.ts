/**
 * One model variant of a run as one record: the dense model, or a compression method with its
 * settings already resolved (`resolveSettings`), so nothing downstream re-parses an id or fills
 * in a default. Variant ids (`gptq3`, `awq4g64`, `wanda2:4`, `sparsegpt0.5`) are parsed here and
 * only here, and formatted back from the settings here.
 */
import {
  isPruneMethod,
  isQuantMethod,
  METHOD_LABELS,
  parseSparsity,
  resolveSettings,
  SettingsError,
  type Method,
  type ResolvedSettings,
} from '../compress/reference/settings';
import { isNM, type Sparsity } from '../compress/reference/types';

export type VariantMethod = 'dense' | Method;

export interface VariantSpec {
  /** Short id used on the command line and in results: `dense`, `gptq3`, `wanda2:4`, `sparsegpt0.5`. */
  id: string;
  label: string;
  method: VariantMethod;
  /**
   * What the compressor runs with; absent for dense. Also absent in a plan stored by an earlier
   * version, whose variants were records (`VariantRecord`): `specOf` fills it in on read.
   */
  settings?: ResolvedSettings;
}

/**
 * A variant as plan files (`ctlab plan`, the plan id's hash) and earlier versions' stored runs
 * write it: the id's parts, the sparsity as typed.
 */
export interface VariantRecord {
  id: string;
  label: string;
  method: VariantMethod;
  bits?: 3 | 4 | 8;
  groupSize?: number;
  /** `2:4`, `4:8`, or an unstructured ratio such as `0.5`. */
  sparsity?: string;
}

/** A variant id's group size when none is written: `resolveSettings`'s default. */
const ID_GROUP_SIZE = 128;

export class VariantSpecError extends Error {
  override name = 'VariantSpecError';
}

const DENSE: VariantSpec = { id: 'dense', label: 'Dense', method: 'dense' };

/** The sparsity as an id writes it: `2:4`, or the ratio as a number (`0.5`). */
function sparsityText(s: Sparsity): string {
  return isNM(s) ? `${s.n}:${s.m}` : String(s.ratio);
}

/** The id of a variant with these settings (absent: dense); `parseVariant` reads it back. */
export function variantId(settings?: ResolvedSettings): string {
  if (!settings) return 'dense';
  if ('bits' in settings)
    return `${settings.method}${settings.bits}${settings.groupSize !== ID_GROUP_SIZE ? `g${settings.groupSize}` : ''}`;
  return `${settings.method}${sparsityText(settings.sparsity)}`;
}

function variantLabel(settings: ResolvedSettings): string {
  const title = METHOD_LABELS[settings.method];
  if ('bits' in settings) return `${title}-${settings.bits}${settings.groupSize !== ID_GROUP_SIZE ? ` g${settings.groupSize}` : ''}`;
  const s = settings.sparsity;
  return `${title} ${isNM(s) ? `${s.n}:${s.m}` : `${Math.round(s.ratio * 100)}%`}`;
}

/** The spec of a compressed variant with these settings (absent: dense). */
export function variantSpec(settings?: ResolvedSettings): VariantSpec {
  if (!settings) return { ...DENSE };
  return { id: variantId(settings), label: variantLabel(settings), method: settings.method, settings };
}

/** The spec of a quantization or pruning choice, validated and with its defaults filled in. */
function specFrom(text: string, settings: Parameters<typeof resolveSettings>[0]): VariantSpec {
  try {
    return variantSpec(resolveSettings(settings));
  } catch (err) {
    if (err instanceof SettingsError) throw new VariantSpecError(`"${text}": ${err.message}`);
    throw err;
  }
}

/** Parses `dense`, `rtn4`, `gptq3`, `awq8`, `gptq4g64` (group size), `wanda2:4`, `magnitude4:8`, `sparsegpt0.5`. */
export function parseVariant(text: string): VariantSpec {
  const id = text.trim().toLowerCase();
  if (id === 'dense') return { ...DENSE };
  const quant = /^(rtn|gptq|awq)([348])(?:g(\d+))?$/.exec(id);
  if (quant && isQuantMethod(quant[1])) {
    // An id written with `g0` has always meant the default group size.
    const groupSize = quant[3] ? Number(quant[3]) : undefined;
    const spec = specFrom(text, { method: quant[1], bits: Number(quant[2]), ...(groupSize ? { groupSize } : {}) });
    return { ...spec, id, label: `${METHOD_LABELS[quant[1]]}-${quant[2]}${groupSize ? ` g${groupSize}` : ''}` };
  }
  const prune = /^(magnitude|wanda|sparsegpt)(\d+:\d+|0?\.\d+)$/.exec(id);
  if (prune && isPruneMethod(prune[1])) {
    const sparsity = prune[2];
    if (sparsity.includes(':')) {
      const [n, m] = sparsity.split(':').map(Number);
      if (!(n > 0 && n < m)) throw new VariantSpecError(`"${text}": N:M sparsity needs 0 < N < M`);
    }
    let parsed: Sparsity;
    try {
      parsed = parseSparsity(sparsity);
    } catch (err) {
      throw new VariantSpecError(`"${text}": ${(err as Error).message}`);
    }
    const spec = specFrom(text, { method: prune[1], sparsity: parsed });
    // The id and label keep the ratio as it was typed (`.5` stays `.5` in the id).
    return {
      ...spec,
      id,
      label: `${METHOD_LABELS[prune[1]]} ${sparsity.includes(':') ? sparsity : `${Math.round(Number(sparsity) * 100)}%`}`,
    };
  }
  throw new VariantSpecError(
    `"${text}" is not a variant; use dense, rtn|gptq|awq followed by 3, 4 or 8 (e.g. gptq3, awq4g64), or magnitude|wanda|sparsegpt followed by 2:4, 4:8 or a ratio (e.g. wanda2:4, sparsegpt0.5)`,
  );
}

/** The study's grid: 3/4/8-bit RTN, GPTQ, AWQ and 2:4 magnitude, Wanda, SparseGPT. */
export const PAPER_GRID = 'dense,rtn3,rtn4,rtn8,gptq3,gptq4,gptq8,awq3,awq4,awq8,magnitude2:4,wanda2:4,sparsegpt2:4';

/** Every variant id listed once, dense first when it was not listed: the comparison is against dense. */
export function withDense(specs: VariantSpec[]): VariantSpec[] {
  const ids = new Set<string>();
  for (const s of specs) {
    if (ids.has(s.id)) throw new VariantSpecError(`"${s.id}" is listed twice`);
    ids.add(s.id);
  }
  return ids.has('dense') ? specs : [{ ...DENSE }, ...specs];
}

/** Parses a comma-separated list; `paper` stands for the study's whole grid. */
export function parseVariants(list: string): VariantSpec[] {
  return withDense(
    list
      .split(',')
      .flatMap((s) => (s.trim() === 'paper' ? PAPER_GRID.split(',').slice(1) : [s]))
      .map((s) => s.trim())
      .filter(Boolean)
      .map(parseVariant),
  );
}

/**
 * The one place a variant read back from storage or a plan file becomes a spec: a spec passes
 * as it is, a record of an earlier version (no settings) is parsed from its id.
 */
export function specOf(v: VariantSpec | VariantRecord): VariantSpec {
  if (v.method === 'dense' || ('settings' in v && v.settings)) return v as VariantSpec;
  const spec = parseVariant(v.id);
  return { ...spec, label: v.label };
}

/** A spec as plan files write it (the shape the plan id hashes); a record passes as it is. */
export function variantRecord(v: VariantSpec | VariantRecord): VariantRecord {
  if (!('settings' in v) || !v.settings) {
    const { id, label, method, bits, groupSize, sparsity } = v as VariantRecord;
    return {
      id,
      label,
      method,
      ...(bits !== undefined ? { bits } : {}),
      ...(groupSize !== undefined ? { groupSize } : {}),
      ...(sparsity !== undefined ? { sparsity } : {}),
    };
  }
  const s = v.settings;
  if ('bits' in s) {
    // The group size as the id wrote it: `gptq4g128` records 128, `gptq4` and `gptq4g0` none.
    const written = Number(v.id.slice(`${v.method}${s.bits}g`.length));
    return { id: v.id, label: v.label, method: v.method, bits: s.bits as 3 | 4 | 8, ...(written > 0 ? { groupSize: written } : {}) };
  }
  // The sparsity as the id wrote it (`.5` as `.5`).
  return { id: v.id, label: v.label, method: v.method, sparsity: v.id.slice(v.method.length) };
}

/** The bit width of a quantized variant; null for dense and pruned ones. */
export function bitsOf(spec: VariantSpec): number | null {
  return spec.settings && 'bits' in spec.settings ? spec.settings.bits : null;
}
