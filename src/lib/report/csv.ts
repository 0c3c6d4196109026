import type { ResultsDoc } from '../run/results';
import { agreementWithDense } from './fidelity';
import { ci95, variantsOf } from './summary';

/** A whole number literal, which a spreadsheet reads as a number and never as a formula. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

export function field(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // Cells starting with = + - @ would run as formulas in a spreadsheet (`-1+cmd|…` too): only a
  // whole plain number may start with "-".
  const safe = /^[=+\-@\t\r]/.test(s) && !(typeof v === 'number' || PLAIN_NUMBER.test(s)) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * One row per variant × perspective × mode, with the interval, refusal rate, the variant's size and
 * speed, and its fidelity to dense: KL and perplexity on the held-out text, and the share of this
 * cell's items answered as dense answered them.
 */
export function resultsCsv(doc: ResultsDoc): string {
  const info = new Map(variantsOf(doc).map((v) => [v.id, v]));
  const pplDense = info.get('dense')?.fidelity?.ppl ?? '';
  const header = [
    'model',
    'variant',
    'perspective',
    'mode',
    'score',
    'ci95',
    'refusal_rate',
    'n',
    'scorer',
    'bytes',
    'ideal_bytes',
    'tokens_per_second',
    'kl_to_dense',
    'ppl',
    'ppl_dense',
    'agreement_with_dense',
    'preset',
    'seed',
  ];
  const rows = doc.results.map((r) => {
    const v = info.get(r.variant);
    return [
      doc.model.label,
      v?.label ?? r.variant,
      r.perspective,
      r.mode,
      r.score,
      ci95(r.score, r.n).toFixed(2),
      r.refusalRate,
      r.n,
      r.scorer ?? '',
      v?.bytes ?? '',
      v?.idealBytes ?? v?.bytes ?? '',
      v?.tokensPerSecond?.toFixed(2) ?? '',
      v?.fidelity?.kl ?? '',
      v?.fidelity?.ppl.toFixed(3) ?? '',
      typeof pplDense === 'number' ? pplDense.toFixed(3) : '',
      agreementWithDense(doc, r)?.toFixed(1) ?? '',
      doc.settings.preset,
      doc.settings.seed,
    ];
  });
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\n') + '\n';
}
