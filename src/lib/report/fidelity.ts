import type { EvalRecord, ScoringMode } from '../eval';
import type { ResultEntry, ResultsDoc } from '../run/results';
import { answerOf } from './verdict';

/** A variant's fidelity to dense as the dashboard and the exports show it. */
export interface FidelityRow {
  /** Mean KL to dense per token (nats); null when the run did not measure it. */
  kl: number | null;
  ppl: number | null;
  /** Share (%) of items answered as dense answered them, per perspective of the summary. */
  agreement: (number | null)[];
  /** Mean of `agreement` over the perspectives that have one. */
  meanAgreement: number | null;
}

/**
 * What an answer is compared on: the parsed answer where there is one, else the output text.
 * On a model too small to answer parseably every parse is empty, and only the text still tells
 * a variant that keeps dense's behaviour from one that breaks it.
 */
export function comparableAnswer(record: EvalRecord, mode: ScoringMode): string | null {
  const answer = answerOf(record, mode);
  if (answer !== null) return `answer:${answer}`;
  return record.output === undefined ? null : `text:${record.output.trim()}`;
}

const itemKey = (rec: EvalRecord) => `${rec.prompt.id}#${rec.sample ?? 0}`;

/** Share (%) of the items both entries ran whose answer is the same; null when they share none. */
export function agreementBetween(entry: ResultEntry, dense: ResultEntry): number | null {
  const reference = new Map(dense.records.records.map((r) => [itemKey(r), comparableAnswer(r, dense.mode)]));
  let same = 0;
  let n = 0;
  for (const rec of entry.records.records) {
    const key = itemKey(rec);
    if (!reference.has(key)) continue;
    n++;
    if (comparableAnswer(rec, entry.mode) === reference.get(key)) same++;
  }
  return n ? (100 * same) / n : null;
}

/** An entry's agreement with dense's entry for the same perspective and mode (100 for dense itself). */
export function agreementWithDense(doc: ResultsDoc, entry: ResultEntry): number | null {
  if (entry.variant === 'dense') return 100;
  const dense = doc.results.find((r) => r.variant === 'dense' && r.perspective === entry.perspective && r.mode === entry.mode);
  return dense ? agreementBetween(entry, dense) : null;
}

export function meanOf(xs: readonly (number | null)[]): number | null {
  const present = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}

/** KL to dense as a short number: enough digits to tell 0.0004 from 0.004. */
export function formatKl(kl: number | null | undefined): string {
  if (kl === null || kl === undefined || !Number.isFinite(kl)) return '—';
  if (kl === 0) return '0';
  return kl >= 10 ? kl.toFixed(1) : kl.toPrecision(2);
}

export function formatAgreement(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(1)}%`;
}
