import { PERSPECTIVE_IDS, type PerspectiveId, type ScoringMode } from '../eval/types';
import type { ResultEntry, ResultsDoc } from '../run/results';
import type { VariantInfo } from '../run/types';
import { parseVariant, type VariantSpec } from '../variants/spec';
import { agreementWithDense, meanOf, type FidelityRow } from './fidelity';
import { answerOf, promptSummary, verdictOf, type Verdict } from './verdict';

export interface Cell {
  score: number;
  refusalRate: number;
  n: number;
  /** Half-width of a 95% interval, treating the score as a proportion over n items. */
  ci: number;
  /** Score minus dense; null for dense itself or when dense is missing. */
  delta: number | null;
  /** Refusal rate minus dense, when it moved by more than 10 points (the paper's marker). */
  refusalShift: number | null;
}

/** A results file's variant with its spec; null when its id names no variant (a single-model file's model). */
export type ReportVariant = VariantInfo & { spec: VariantSpec | null };

export interface Summary {
  mode: ScoringMode;
  variants: ReportVariant[];
  perspectives: PerspectiveId[];
  /** cells[variantIndex][perspectiveIndex] */
  cells: (Cell | null)[][];
  /** Fidelity to dense per variant (same order as `variants`). */
  fidelity: FidelityRow[];
  /** Dense's perplexity on the held-out text, when measured. */
  pplDense: number | null;
  /** Whether any compressed variant has a KL or an agreement to show. */
  hasFidelity: boolean;
}

export const PERSPECTIVE_TITLES: Record<PerspectiveId, string> = {
  stereotype: 'Stereotype',
  privacy: 'Privacy',
  toxicity: 'Toxicity',
  fairness: 'Fairness',
  adv_robustness: 'Adv. robustness',
  ood: 'OOD',
  adv_demonstration: 'Adv. demo',
  machine_ethics: 'Ethics',
  mmlu: 'MMLU',
};

export function ci95(score: number, n: number): number {
  if (!(n > 0) || !Number.isFinite(score)) return NaN;
  const p = Math.min(1, Math.max(0, score / 100));
  return 100 * 1.96 * Math.sqrt((p * (1 - p)) / n);
}

/** The modes present in a results file, generate first. */
export function modesOf(doc: ResultsDoc): ScoringMode[] {
  const modes = new Set(doc.results.map((r) => r.mode));
  return (['generate', 'likelihood'] as const).filter((m) => modes.has(m));
}

/** The packed size of a variant that runs unpacked (3-bit, pruned), when it is clearly smaller. */
export function packedBytes(v: VariantInfo): number | null {
  return v.idealBytes && v.bytes && v.idealBytes < 0.95 * v.bytes ? v.idealBytes : null;
}

/**
 * The variants of a results file, each with its spec. Results files keep today's shape (ids and
 * labels, no settings), so this is the one place a report turns an id back into a spec.
 */
export function variantsOf(doc: ResultsDoc): ReportVariant[] {
  const infos: VariantInfo[] = doc.variants?.length
    ? doc.variants
    : [...new Set(doc.results.map((r) => r.variant))].map((id) => ({ id, label: id }));
  return infos.map((v) => ({ ...v, spec: specOrNull(v.id) }));
}

function specOrNull(id: string): VariantSpec | null {
  try {
    return parseVariant(id);
  } catch {
    return null;
  }
}

/**
 * The comparison table behind every chart: one row per variant, one column per perspective
 * (MMLU last), scores with their change against dense. A perspective scored only in likelihood
 * mode still appears when `mode` is generate, using its likelihood score.
 */
export function summarize(doc: ResultsDoc, mode: ScoringMode = modesOf(doc)[0] ?? 'generate'): Summary {
  const variants = variantsOf(doc);
  const perspectives = PERSPECTIVE_IDS.filter((p) => doc.results.some((r) => r.perspective === p));
  const pick = (variant: string, p: PerspectiveId): ResultEntry | undefined =>
    doc.results.find((r) => r.variant === variant && r.perspective === p && r.mode === mode) ??
    doc.results.find((r) => r.variant === variant && r.perspective === p);
  const dense = variants.find((v) => v.id === 'dense');
  const cells = variants.map((v) =>
    perspectives.map((p): Cell | null => {
      const r = pick(v.id, p);
      if (!r) return null;
      const d = dense && v.id !== 'dense' ? pick(dense.id, p) : undefined;
      const shift = d ? r.refusalRate - d.refusalRate : null;
      return {
        score: r.score,
        refusalRate: r.refusalRate,
        n: r.n,
        ci: ci95(r.score, r.n),
        delta: d ? r.score - d.score : null,
        refusalShift: shift !== null && Math.abs(shift) > 10 ? shift : null,
      };
    }),
  );
  const fidelity = variants.map((v): FidelityRow => {
    const agreement = perspectives.map((p) => {
      const r = pick(v.id, p);
      return r ? agreementWithDense(doc, r) : null;
    });
    return { kl: v.fidelity?.kl ?? null, ppl: v.fidelity?.ppl ?? null, agreement, meanAgreement: meanOf(agreement) };
  });
  const pplDense = dense?.fidelity?.ppl ?? null;
  const hasFidelity = fidelity.some((f, i) => variants[i].id !== 'dense' && (f.kl !== null || f.meanAgreement !== null));
  return { mode, variants, perspectives, cells, fidelity, pplDense, hasFidelity };
}

export interface ExplorerAnswer {
  variant: string;
  output: string;
  answer: string | null;
  verdict: Verdict;
}

export interface ExplorerRow {
  id: string;
  cell: string;
  prompt: string;
  expected: string | null;
  answers: ExplorerAnswer[];
  /** Variants did not all count the same way. */
  disagree: boolean;
}

/** Every item of one perspective with each variant's answer side by side. */
export function explorerRows(doc: ResultsDoc, perspective: PerspectiveId, mode: ScoringMode): ExplorerRow[] {
  const entries = doc.results.filter((r) => r.perspective === perspective && r.mode === mode);
  const rows = new Map<string, ExplorerRow>();
  for (const entry of entries) {
    for (const rec of entry.records.records) {
      const key = `${rec.prompt.id}#${rec.sample ?? 0}`;
      let row = rows.get(key);
      if (!row) {
        const item = rec.item as unknown as Record<string, unknown>;
        const expected = item.label ?? item.answer;
        row = {
          id: key,
          cell: rec.item.cell,
          prompt: promptSummary(rec),
          expected: expected === undefined ? null : String(expected),
          answers: [],
          disagree: false,
        };
        rows.set(key, row);
      }
      row.answers.push({
        variant: entry.variant,
        output: rec.output ?? (rec.optionLogLikelihoods ? `(likelihood) ${answerOf(rec, mode) ?? '—'}` : ''),
        answer: answerOf(rec, mode),
        verdict: verdictOf(perspective, rec, mode),
      });
    }
  }
  for (const row of rows.values()) row.disagree = new Set(row.answers.map((a) => a.verdict)).size > 1;
  return [...rows.values()];
}

export function formatScore(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}
