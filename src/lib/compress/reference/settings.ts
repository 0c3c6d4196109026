import { checkSparsity } from './prune';
import { isNM, type Sparsity } from './types';

export const QUANT_METHODS = ['rtn', 'gptq', 'awq'] as const;
export const PRUNE_METHODS = ['magnitude', 'wanda', 'sparsegpt'] as const;
export const METHODS = [...QUANT_METHODS, ...PRUNE_METHODS] as const;
export type QuantMethod = (typeof QUANT_METHODS)[number];
export type PruneMethod = (typeof PRUNE_METHODS)[number];
export type Method = QuantMethod | PruneMethod;

export const METHOD_LABELS: Record<Method, string> = {
  rtn: 'RTN',
  gptq: 'GPTQ',
  awq: 'AWQ',
  magnitude: 'Magnitude',
  wanda: 'Wanda',
  sparsegpt: 'SparseGPT',
};

/** What a user chooses. Unset fields take the defaults of `resolveSettings`. */
export interface CompressSettings {
  method: Method;
  /** 3, 4 or 8 (quantization). Default 4. */
  bits?: number;
  /** Columns per quantization group; default 128, clipped to each layer's width; 0 = one group per row. */
  groupSize?: number;
  /** Symmetric quantization. Default: true for RTN and GPTQ (AutoGPTQ), false for AWQ (zero point, llm-awq). */
  sym?: boolean;
  /**
   * GPTQ act_order (desc_act). Default false: with groups it makes non-contiguous groups
   * (`g_idx`), which MatMulNBits cannot hold, so such linears would stay fake-quantized fp32.
   */
  actOrder?: boolean;
  /** Pruning target: N:M or an unstructured ratio. Default 2:4. */
  sparsity?: Sparsity;
  /** GPTQ / SparseGPT dampening (fraction of mean diag H). Default 0.01. */
  percdamp?: number;
  /** GPTQ / SparseGPT lazy-update block. Default 128. */
  blockSize?: number;
}

export type ResolvedSettings =
  | { method: QuantMethod; bits: number; groupSize: number; sym: boolean; actOrder: boolean; percdamp: number; blockSize: number }
  | { method: PruneMethod; sparsity: Sparsity; percdamp: number; blockSize: number };

export function isQuantMethod(m: string): m is QuantMethod {
  return (QUANT_METHODS as readonly string[]).includes(m);
}

export function isPruneMethod(m: string): m is PruneMethod {
  return (PRUNE_METHODS as readonly string[]).includes(m);
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Validates and fills in defaults; throws a `SettingsError` naming the bad field. */
export function resolveSettings(s: CompressSettings): ResolvedSettings {
  const percdamp = s.percdamp ?? 0.01;
  const blockSize = s.blockSize ?? 128;
  if (!(percdamp >= 0 && percdamp < 10)) throw new SettingsError(`percdamp must be in [0, 10), got ${percdamp}`);
  if (!(Number.isInteger(blockSize) && blockSize >= 1 && blockSize <= 128))
    throw new SettingsError(`blockSize must be an integer in 1..128, got ${blockSize}`);
  if (isQuantMethod(s.method)) {
    if (s.sparsity !== undefined) throw new SettingsError(`${s.method} quantizes; --sparsity belongs to magnitude, wanda and sparsegpt`);
    const bits = s.bits ?? 4;
    if (![3, 4, 8].includes(bits)) throw new SettingsError(`bits must be 3, 4 or 8, got ${bits}`);
    const groupSize = s.groupSize ?? 128;
    if (!(Number.isInteger(groupSize) && groupSize >= 0))
      throw new SettingsError(`group size must be a non-negative integer, got ${groupSize}`);
    if (s.actOrder && s.method !== 'gptq') throw new SettingsError('act-order applies to GPTQ only');
    return {
      method: s.method,
      bits,
      groupSize,
      sym: s.sym ?? s.method !== 'awq',
      actOrder: s.actOrder ?? false,
      percdamp,
      blockSize,
    };
  }
  if (isPruneMethod(s.method)) {
    if (s.bits !== undefined || s.groupSize !== undefined || s.actOrder) {
      throw new SettingsError(`${s.method} prunes; --bits, --group-size and --act-order belong to rtn, gptq and awq`);
    }
    const sparsity = s.sparsity ?? { n: 2, m: 4 };
    try {
      checkSparsity(sparsity);
    } catch (err) {
      throw new SettingsError((err as Error).message);
    }
    if (s.method === 'sparsegpt' && isNM(sparsity) && blockSize % sparsity.m !== 0) {
      throw new SettingsError(`SparseGPT's block size ${blockSize} must be a multiple of M = ${sparsity.m}`);
    }
    return { method: s.method, sparsity, percdamp, blockSize };
  }
  throw new SettingsError(`unknown method "${String((s as { method: unknown }).method)}"; expected one of ${METHODS.join(', ')}`);
}

/** `2:4`, `4:8`, `0.5` → Sparsity. */
export function parseSparsity(text: string): Sparsity {
  const t = text.trim();
  const nm = /^(\d+):(\d+)$/.exec(t);
  let s: Sparsity;
  if (nm) s = { n: Number(nm[1]), m: Number(nm[2]) };
  else if (/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(t)) s = { ratio: Number(t) };
  else throw new SettingsError(`sparsity must be N:M (e.g. 2:4) or a ratio in [0, 1] (e.g. 0.5), got "${text}"`);
  try {
    checkSparsity(s);
  } catch (err) {
    throw new SettingsError((err as Error).message);
  }
  return s;
}

/**
 * Compression settings as the command line gives them: numbers and the sparsity still text, for
 * the library to check (`parseSparsity`, `resolveSettings`).
 */
export interface SettingsText {
  method: string;
  bits?: string;
  groupSize?: string;
  sym?: boolean;
  actOrder?: boolean;
  /** `2:4`, `4:8` or a ratio such as `0.5`. */
  sparsity?: string;
}

/** The settings checked by the library: throws a `SettingsError` naming the bad field. */
export function settingsFromText(s: SettingsText): CompressSettings {
  const settings: CompressSettings = {
    // An unknown method is named by resolveSettings.
    method: s.method as Method,
    ...(s.bits !== undefined ? { bits: Number(s.bits) } : {}),
    ...(s.groupSize !== undefined ? { groupSize: Number(s.groupSize) } : {}),
    ...(s.sym !== undefined ? { sym: s.sym } : {}),
    ...(s.actOrder ? { actOrder: true } : {}),
    ...(s.sparsity !== undefined ? { sparsity: parseSparsity(s.sparsity) } : {}),
  };
  resolveSettings(settings);
  return settings;
}

export function formatSparsity(s: Sparsity): string {
  return isNM(s) ? `${s.n}:${s.m}` : `${Math.round(s.ratio * 1000) / 10}%`;
}

/** A file-name-safe tag of the settings, e.g. `gptq-w4-g128-sym` or `wanda-2of4`. */
export function settingsSlug(r: ResolvedSettings): string {
  if ('bits' in r) {
    const parts = [r.method, `w${r.bits}`, r.groupSize > 0 ? `g${r.groupSize}` : 'pc', r.sym ? 'sym' : 'asym'];
    if (r.actOrder) parts.push('act');
    if (r.percdamp !== 0.01) parts.push(`d${r.percdamp}`);
    return parts.join('-');
  }
  const sp = isNM(r.sparsity) ? `${r.sparsity.n}of${r.sparsity.m}` : `u${Math.round(r.sparsity.ratio * 1000)}`;
  return `${r.method}-${sp}`;
}

/** A human label, e.g. `GPTQ-3 g64` or `SparseGPT 2:4`. */
export function settingsLabel(r: ResolvedSettings): string {
  if ('bits' in r) {
    const extra = [r.groupSize > 0 ? `g${r.groupSize}` : 'per-channel'];
    if (r.method !== 'awq' && !r.sym) extra.push('asym');
    if (r.method === 'awq' && r.sym) extra.push('no zero point');
    if (r.actOrder) extra.push('act-order');
    return `${METHOD_LABELS[r.method]}-${r.bits} ${extra.join(' ')}`;
  }
  return `${METHOD_LABELS[r.method]} ${formatSparsity(r.sparsity)}`;
}
