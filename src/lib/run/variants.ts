/** A model variant in a run: the dense model or one compression setting. */
export type VariantMethod = 'dense' | 'rtn' | 'gptq' | 'awq' | 'magnitude' | 'wanda' | 'sparsegpt';

export interface VariantSpec {
  /** Short id used on the command line and in results: `dense`, `gptq3`, `wanda2:4`, `sparsegpt0.5`. */
  id: string;
  label: string;
  method: VariantMethod;
  bits?: 3 | 4 | 8;
  groupSize?: number;
  /** `2:4`, `4:8`, or an unstructured ratio such as `0.5`. */
  sparsity?: string;
}

export const QUANT_METHODS = ['rtn', 'gptq', 'awq'] as const;
export const PRUNE_METHODS = ['magnitude', 'wanda', 'sparsegpt'] as const;
const TITLES: Record<VariantMethod, string> = {
  dense: 'Dense',
  rtn: 'RTN',
  gptq: 'GPTQ',
  awq: 'AWQ',
  magnitude: 'Magnitude',
  wanda: 'Wanda',
  sparsegpt: 'SparseGPT',
};

export class VariantSpecError extends Error {
  override name = 'VariantSpecError';
}

/** Parses `dense`, `rtn4`, `gptq3`, `awq8`, `gptq4g64` (group size), `wanda2:4`, `magnitude4:8`, `sparsegpt0.5`. */
export function parseVariant(text: string): VariantSpec {
  const id = text.trim().toLowerCase();
  if (id === 'dense') return { id, label: 'Dense', method: 'dense' };
  const quant = /^(rtn|gptq|awq)([348])(?:g(\d+))?$/.exec(id);
  if (quant) {
    const method = quant[1] as VariantMethod;
    const bits = Number(quant[2]) as 3 | 4 | 8;
    const groupSize = quant[3] ? Number(quant[3]) : undefined;
    return {
      id,
      label: `${TITLES[method]}-${bits}${groupSize ? ` g${groupSize}` : ''}`,
      method,
      bits,
      ...(groupSize ? { groupSize } : {}),
    };
  }
  const prune = /^(magnitude|wanda|sparsegpt)(\d+:\d+|0?\.\d+)$/.exec(id);
  if (prune) {
    const method = prune[1] as VariantMethod;
    const sparsity = prune[2];
    if (sparsity.includes(':')) {
      const [n, m] = sparsity.split(':').map(Number);
      if (!(n > 0 && n < m)) throw new VariantSpecError(`"${text}": N:M sparsity needs 0 < N < M`);
    }
    return {
      id,
      label: `${TITLES[method]} ${sparsity.includes(':') ? sparsity : `${Math.round(Number(sparsity) * 100)}%`}`,
      method,
      sparsity,
    };
  }
  throw new VariantSpecError(
    `"${text}" is not a variant; use dense, rtn|gptq|awq followed by 3, 4 or 8 (e.g. gptq3, awq4g64), or magnitude|wanda|sparsegpt followed by 2:4, 4:8 or a ratio (e.g. wanda2:4, sparsegpt0.5)`,
  );
}

/** Parses a comma-separated list; `paper` stands for the study's whole grid. */
export function parseVariants(list: string): VariantSpec[] {
  const specs = list
    .split(',')
    .flatMap((s) => (s.trim() === 'paper' ? PAPER_GRID.split(',').slice(1) : [s]))
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseVariant);
  const ids = new Set<string>();
  for (const s of specs) {
    if (ids.has(s.id)) throw new VariantSpecError(`"${s.id}" is listed twice`);
    ids.add(s.id);
  }
  // The comparison is against dense, so dense is always part of a run.
  return ids.has('dense') ? specs : [parseVariant('dense'), ...specs];
}

/** The study's grid: 3/4/8-bit RTN, GPTQ, AWQ and 2:4 magnitude, Wanda, SparseGPT. */
export const PAPER_GRID = 'dense,rtn3,rtn4,rtn8,gptq3,gptq4,gptq8,awq3,awq4,awq8,magnitude2:4,wanda2:4,sparsegpt2:4';
