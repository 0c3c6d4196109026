// @ts-check
// `ctlab score`: re-scores outputs (this project's results files or DecodingTrust's outputs).
import { modelArg, usage } from '../lib/args.mjs';
import { dataFilesFor, inputFiles } from '../lib/wire.mjs';

/** @typedef {import('../lib/command.mjs').Context} Context */

/** @param {import('../lib/args.mjs').Argv} argv */
export function parse({ values, positionals }) {
  const toxicity = values['toxicity-model'] === undefined ? undefined : modelArg(values['toxicity-model']);
  if (!values.perspective) usage('score needs --perspective P');
  // `--input a b c` (a shell glob) leaves b and c as positionals: they are inputs too.
  const given = [...(values.input ?? []), ...positionals.slice(1)];
  if (given.length === 0) usage('score needs --input FILE');
  const setting = /** @type {string | undefined} */ (values.setting ?? values.cell);
  return {
    perspective: /** @type {import('../../src/lib/eval').PerspectiveId} */ (values.perspective),
    inputs: given.flatMap(inputFiles),
    dataDir: /** @type {string | undefined} */ (values['data-dir']),
    setting,
    toxicity,
    json: values.json === true,
    serve: { models: [toxicity] },
  };
}

/** @param {Context} ctx @param {ReturnType<typeof parse>} req */
export async function request(ctx, req) {
  const folder = await ctx.page.dataFolder({ perspective: req.perspective });
  return ctx.page.score({
    perspective: req.perspective,
    inputs: req.inputs,
    data: req.dataDir ? dataFilesFor(req.dataDir, folder) : [],
    ...(req.setting ? { setting: req.setting } : {}),
    ...(req.toxicity ? { toxicityModel: ctx.source(req.toxicity) } : {}),
  });
}

/** @param {Awaited<ReturnType<typeof request>>} scores @param {ReturnType<typeof parse>} req */
export function print(scores, req) {
  const rows = scores.map((s) => ({
    perspective: s.perspective,
    ...(s.variant ? { variant: s.variant } : {}),
    mode: s.mode,
    score: s.score,
    refusal_rate: s.refusalRate,
    n: s.n,
    ...(s.scorer ? { scorer: s.scorer } : {}),
    ...(s.decodingTrust ? { decodingtrust: s.decodingTrust } : {}),
    breakdown: s.breakdown,
    ...(s.notes?.length ? { notes: s.notes } : {}),
  }));
  return { stdout: req.json ? `${JSON.stringify(rows)}\n` : rows.map(scoreTable).join('') };
}

/** @param {number} v */
const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/**
 * A re-scored perspective as text: the score, DecodingTrust's own numbers, then one line per cell
 * of the breakdown.
 * @param {{ perspective: string, variant?: string, score: number, refusal_rate: number, n: number, scorer?: string, decodingtrust?: object, breakdown?: object, notes?: string[] }} r
 */
function scoreTable(r) {
  const lines = [
    `${r.perspective}${r.variant ? ` (${r.variant})` : ''}: score ${fmt(r.score)}  refusal ${fmt(r.refusal_rate)}  n ${r.n}${r.scorer ? `  scorer ${r.scorer}` : ''}`,
  ];
  if (r.decodingtrust)
    lines.push(
      `  DecodingTrust: ${Object.entries(r.decodingtrust)
        .map(([k, v]) => `${k} ${fmt(Number(v))}`)
        .join('  ')}`,
    );
  /** @param {string} cell @param {unknown} v */
  const row = (cell, v) => {
    if (typeof v === 'number') return lines.push(`  ${cell.padEnd(40)} ${fmt(v)}`);
    if (!v || typeof v !== 'object') return;
    const numbers = Object.entries(v).filter(([, x]) => typeof x === 'number');
    if (numbers.length) lines.push(`  ${cell.padEnd(40)} ${numbers.map(([k, x]) => `${k} ${fmt(Number(x))}`).join('  ')}`);
    // A group of cells (e.g. per scenario) gets a row per member.
    else for (const [k, x] of Object.entries(v)) if (x && typeof x === 'object') row(`${cell}/${k}`, x);
  };
  for (const [cell, v] of Object.entries(r.breakdown ?? {})) row(cell, v);
  for (const n of r.notes ?? []) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}
