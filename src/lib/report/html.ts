import type { ResultsDoc } from '../run/results';
import { escapeHtml } from '../util/escape';
import { formatBytes } from '../util/format';
import { bitsCurveOption, hasQuantized, heatmapOption, radarOption } from './charts';
import { renderSvg } from './echarts';
import { formatAgreement, formatKl } from './fidelity';
import { oneSeed, seedSpread, seedsOf } from './seeds';
import { explorerRows, formatScore, modesOf, packedBytes, PERSPECTIVE_TITLES, summarize, variantsOf } from './summary';

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#16202c;max-width:1100px}h1{margin-bottom:0}
.muted{color:#566172}table{border-collapse:collapse;margin:1rem 0}th,td{border-bottom:1px solid #d9dee5;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}th[scope=colgroup]{text-align:center}.charts{display:flex;flex-wrap:wrap;gap:1rem}.flag{color:#b3261e}
pre{white-space:pre-wrap;background:#f2f4f7;padding:.4rem;margin:0;font-size:.85em}.bad{color:#b3261e}.item{border-top:1px solid #d9dee5;padding:.5rem 0}`;

/**
 * The report's own policy: it needs nothing from any network and runs no script, so a report
 * opened from disk or a mail attachment can neither call home nor be made to (even if escaping
 * ever failed). Inline styles are its stylesheet and the charts' SVG attributes; data: images only.
 */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * A self-contained HTML report (inline SVG charts, no scripts, no external requests) with the
 * dashboard's charts and numbers and the items where variants disagree. Every string from a
 * model, a data file or a file name is escaped.
 */
export function htmlReport(all: ResultsDoc, opts: { maxItems?: number } = {}): string {
  const parts: string[] = [];
  // Charts, tables and items show the first seed; the spread across seeds gets its own table.
  const doc = oneSeed(all);
  const title = `Compressed Trust Lab — ${doc.model.label}`;
  parts.push(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}"><meta name="viewport" content="width=device-width,initial-scale=1">`,
  );
  parts.push(`<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`);
  parts.push(`<h1>${escapeHtml(title)}</h1>`);
  const s = all.settings;
  parts.push(
    `<p class="muted">Preset ${escapeHtml(s.preset)} · seed ${escapeHtml(s.seeds ? `${s.seeds.join(', ')} (charts and items: ${s.seed})` : s.seed)} · modes ${escapeHtml(s.modes.join(', '))} · data: ${escapeHtml(s.data)} · ${escapeHtml(s.device)}${s.adapter ? ` (${escapeHtml(s.adapter)})` : ''}${s.deviceNote ? ` (${escapeHtml(s.deviceNote)})` : ''}${s.precision ? ` · ${escapeHtml(s.precision)} weights${s.precisionNote ? ` (${escapeHtml(s.precisionNote)})` : ''}` : ''} · ${escapeHtml(doc.createdAt)}</p>`,
  );
  if (doc.results.some((r) => r.scorer?.includes('proxy'))) {
    parts.push(
      `<p class="muted">Toxicity is scored by an offline lexicon proxy; its numbers are not comparable with published Perspective API scores.</p>`,
    );
  }
  for (const v of doc.variants ?? []) {
    if (v.deleted) parts.push(`<p class="muted">${escapeHtml(v.label)}: ${escapeHtml(v.deleted)}</p>`);
  }
  for (const mode of modesOf(doc)) {
    const sum = summarize(doc, mode);
    parts.push(`<h2>${mode === 'generate' ? 'Generate and parse' : 'Option log-likelihood'}</h2><div class="charts">`);
    if (sum.variants.length > 1) parts.push(renderSvg(heatmapOption(sum), 720, 90 + 34 * sum.variants.length + 60));
    const quantized = hasQuantized(sum);
    if (quantized) parts.push(renderSvg(bitsCurveOption(sum), 480, 320));
    if (quantized && sum.fidelity.some((f) => f.kl !== null)) parts.push(renderSvg(bitsCurveOption(sum, 'kl'), 480, 320));
    parts.push(renderSvg(radarOption(sum), 480, 380));
    const fidelityHead = sum.hasFidelity
      ? `<tr><th colspan="${sum.perspectives.length + 3}"></th><th colspan="3" scope="colgroup">Fidelity to dense</th></tr>`
      : '';
    parts.push(
      `</div><table><thead>${fidelityHead}<tr><th>Variant</th>${sum.perspectives.map((p) => `<th>${escapeHtml(PERSPECTIVE_TITLES[p])}</th>`).join('')}<th>Size</th><th>tokens/s</th>${sum.hasFidelity ? '<th title="mean KL(dense ‖ variant) per token on the held-out text, nats">KL</th><th>ppl</th><th>agreement</th>' : ''}</tr></thead><tbody>`,
    );
    sum.variants.forEach((v, row) => {
      const cells = sum.perspectives
        .map((_, i) => {
          const c = sum.cells[row][i];
          if (!c) return '<td>—</td>';
          const flag =
            c.refusalShift !== null ? ` <span class="flag" title="refusal rate moved ${formatScore(c.refusalShift)} points">⚑</span>` : '';
          return `<td title="refusal ${formatScore(c.refusalRate)} · n ${c.n}">${formatScore(c.score)} ± ${formatScore(c.ci)}${c.delta !== null ? ` (${c.delta >= 0 ? '+' : ''}${formatScore(c.delta)})` : ''}${flag}</td>`;
        })
        .join('');
      const packed = packedBytes(v);
      const f = sum.fidelity[row];
      const perPerspective = sum.perspectives.map((p, i) => `${PERSPECTIVE_TITLES[p]} ${formatAgreement(f.agreement[i])}`).join(' · ');
      const fidelity = sum.hasFidelity
        ? `<td>${formatKl(f.kl)}</td><td>${formatScore(f.ppl, 2)}</td><td title="${escapeHtml(perPerspective)}">${formatAgreement(f.meanAgreement)}</td>`
        : '';
      parts.push(
        `<tr><td>${escapeHtml(v.label)}</td>${cells}<td>${v.bytes ? escapeHtml(formatBytes(v.bytes)) : '—'}${packed ? ` <small>(packed ≈ ${escapeHtml(formatBytes(packed))})</small>` : ''}</td><td>${formatScore(v.tokensPerSecond)}</td>${fidelity}</tr>`,
      );
    });
    parts.push(`</tbody></table>`);
    if (sum.hasFidelity) {
      const text = sum.variants.find((v) => v.fidelity)?.fidelity?.text;
      parts.push(
        `<p class="muted">Fidelity to dense: KL is the mean KL(dense ‖ variant) per token of next-token distributions on the ${text ? `${escapeHtml(text)} ` : ''}held-out text (dense's top 256 tokens plus the rest, a lower bound on the full KL); ppl is the perplexity on that text; agreement is the share of items answered as dense answered them (the parsed answer, else the output text), averaged over the perspectives.</p>`,
      );
    }
  }
  parts.push(seedTable(all));
  const mode = modesOf(doc)[0] ?? 'generate';
  const disagreements = [...new Set(doc.results.map((r) => r.perspective))].flatMap((p) =>
    explorerRows(doc, p, mode)
      .filter((r) => r.disagree)
      .map((r) => ({ p, r })),
  );
  if (disagreements.length) {
    parts.push(`<h2>Where the variants disagree (${disagreements.length})</h2>`);
    for (const { p, r } of disagreements.slice(0, opts.maxItems ?? 60)) {
      parts.push(
        `<div class="item"><strong>${escapeHtml(PERSPECTIVE_TITLES[p])}</strong> · ${escapeHtml(r.cell)}${r.expected !== null ? ` · expected ${escapeHtml(r.expected)}` : ''}<pre>${escapeHtml(r.prompt)}</pre><table><tbody>`,
      );
      for (const a of r.answers) {
        parts.push(
          `<tr><td>${escapeHtml(a.variant)}</td><td class="${a.verdict === 'wrong' || a.verdict === 'agree' || a.verdict === 'leak' || a.verdict === 'toxic' ? 'bad' : ''}">${escapeHtml(a.verdict)}</td><td style="text-align:left"><pre>${escapeHtml(a.output)}</pre></td></tr>`,
        );
      }
      parts.push(`</tbody></table></div>`);
    }
  }
  parts.push(
    `<p class="muted">Made by Compressed Trust Lab in the browser; nothing left the machine but the model download.</p></body></html>`,
  );
  return parts.join('\n');
}

/** Per variant and perspective: the mean across seeds ± the seeds' mean 95% interval, and the seeds' standard deviation. */
function seedTable(doc: ResultsDoc): string {
  const spread = seedSpread(doc);
  if (!spread.length) return '';
  const seeds = seedsOf(doc);
  const out: string[] = [];
  for (const mode of modesOf(doc)) {
    const rows = spread.filter((c) => c.mode === mode);
    const perspectives = [...new Set(rows.map((c) => c.perspective))];
    out.push(
      `<h2>Across seeds ${escapeHtml(seeds.join(', '))} (${mode === 'generate' ? 'generate and parse' : 'option log-likelihood'})</h2><p class="muted">Mean of the seeds' scores ± the 95% interval of one seed; sd: the spread of the scores across seeds.</p><table><thead><tr><th>Variant</th>${perspectives.map((p) => `<th>${escapeHtml(PERSPECTIVE_TITLES[p])}</th>`).join('')}</tr></thead><tbody>`,
    );
    for (const v of variantsOf(doc)) {
      const cells = perspectives.map((p) => {
        const c = rows.find((r) => r.variant === v.id && r.perspective === p);
        return c
          ? `<td title="seeds ${escapeHtml(c.seeds.join(', '))}: ${escapeHtml(c.scores.map((x) => formatScore(x)).join(', '))}">${formatScore(c.mean)} ± ${formatScore(c.ci)} <small>sd ${formatScore(c.sd)}</small></td>`
          : '<td>—</td>';
      });
      out.push(`<tr><td>${escapeHtml(v.label)}</td>${cells.join('')}</tr>`);
    }
    out.push('</tbody></table>');
  }
  return out.join('\n');
}
