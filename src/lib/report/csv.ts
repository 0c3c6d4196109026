import type { ResultsDoc } from '../run/results';
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

/** One row per variant × perspective × mode, with the interval, refusal rate and the variant's size and speed. */
export function resultsCsv(doc: ResultsDoc): string {
  const info = new Map(variantsOf(doc).map((v) => [v.id, v]));
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
      doc.settings.preset,
      doc.settings.seed,
    ];
  });
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\n') + '\n';
}
