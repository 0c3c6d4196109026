import { describe, expect, it } from 'vitest';
import type { EvalRecord } from '../../src/lib/eval';
import { bitsCurveOption, heatmapOption } from '../../src/lib/report/charts';
import { field, resultsCsv } from '../../src/lib/report/csv';
import { agreementBetween, agreementWithDense, formatKl } from '../../src/lib/report/fidelity';
import { htmlReport } from '../../src/lib/report/html';
import { explorerRows, summarize } from '../../src/lib/report/summary';
import type { ResultEntry, ResultsDoc } from '../../src/lib/run/results';

const XSS = '<img src=x onerror=alert(1)>';

function record(id: string, output: string, answer: string | null, label = 'wrong'): EvalRecord {
  return {
    item: { id, cell: 'zero-shot', label } as EvalRecord['item'],
    prompt: {
      id: `${id}::main`,
      key: 'main',
      input: { kind: 'chat', messages: [{ role: 'user', content: `Is this wrong? <script>alert("${id}")</script>` }] },
      decoding: { maxNewTokens: 16, temperature: 0, n: 1 },
      options: ['wrong', 'not wrong'],
    },
    sample: 0,
    output,
    parsed: { answer },
  };
}

function entry(
  variant: string,
  perspective: 'machine_ethics' | 'mmlu',
  score: number,
  refusalRate: number,
  records: EvalRecord[],
): ResultEntry {
  return {
    variant,
    perspective,
    mode: 'generate',
    score,
    refusalRate,
    n: 100,
    breakdown: {},
    run: undefined,
    loadErrors: [],
    records: { format: 'ctlab-eval-records', version: 1, perspective, mode: 'generate', records },
  };
}

const doc: ResultsDoc = {
  format: 'ctlab-results',
  version: 1,
  createdAt: '2026-11-23T00:00:00Z',
  model: { key: 'local:<b>m</b>', label: 'model <b>bold</b>' },
  settings: {
    preset: 'smoke',
    seed: 1,
    modes: ['generate'],
    perspectives: ['machine_ethics', 'mmlu'],
    data: 'x',
    device: 'wasm',
    deviceNote: 'the WebGPU adapter <b>x</b> runs on the CPU',
    adapter: null,
  },
  variants: [
    { id: 'dense', label: 'Dense', bytes: 1_000_000, tokensPerSecond: 100 },
    { id: 'rtn4', label: 'RTN-4', bytes: 300_000, tokensPerSecond: 120 },
    { id: 'gptq3', label: 'GPTQ-3', bytes: 1_000_000, idealBytes: 250_000, tokensPerSecond: 130 },
  ],
  results: [
    entry('dense', 'machine_ethics', 80, 5, [record('a', 'wrong.', 'wrong'), record('b', 'not wrong', 'not wrong', 'not wrong')]),
    entry('rtn4', 'machine_ethics', 75, 8, [record('a', 'wrong', 'wrong'), record('b', XSS, null, 'not wrong')]),
    entry('gptq3', 'machine_ethics', 50, 30, [record('a', 'not wrong', 'not wrong'), record('b', 'not wrong', 'not wrong', 'not wrong')]),
    entry('dense', 'mmlu', 40, 0, []),
    entry('rtn4', 'mmlu', 39, 0, []),
    entry('gptq3', 'mmlu', 35, 0, []),
  ],
};

describe('dashboard summary', () => {
  it('computes changes against dense, intervals and refusal-rate markers', () => {
    const s = summarize(doc);
    expect(s.perspectives).toEqual(['machine_ethics', 'mmlu']);
    expect(s.cells[0][0]?.delta).toBeNull();
    expect(s.cells[1][0]?.delta).toBe(-5);
    expect(s.cells[2][1]?.delta).toBe(-5);
    expect(s.cells[1][0]?.refusalShift).toBeNull(); // 3 points: not marked
    expect(s.cells[2][0]?.refusalShift).toBe(25); // over 10 points: marked
    expect(s.cells[0][0]?.ci).toBeCloseTo(100 * 1.96 * Math.sqrt((0.8 * 0.2) / 100), 10);
  });

  it('lines up each item across variants and finds where they disagree', () => {
    const rows = explorerRows(doc, 'machine_ethics', 'generate');
    expect(rows).toHaveLength(2);
    const a = rows.find((r) => r.id.startsWith('a::'))!;
    expect(a.answers.map((x) => x.verdict)).toEqual(['correct', 'correct', 'wrong']);
    expect(a.disagree).toBe(true);
    const b = rows.find((r) => r.id.startsWith('b::'))!;
    expect(b.answers.map((x) => x.verdict)).toEqual(['correct', 'refusal', 'correct']);
  });
});

describe('exports', () => {
  it('CSV has one row per result and neutralises formulas', () => {
    const csv = resultsCsv({ ...doc, model: { ...doc.model, label: '=HYPERLINK("x")' } });
    const lines = csv.trim().split('\n');
    expect(lines).toHaveLength(1 + doc.results.length);
    expect(lines[0]).toBe(
      'model,variant,perspective,mode,score,ci95,refusal_rate,n,scorer,bytes,ideal_bytes,tokens_per_second,kl_to_dense,ppl,ppl_dense,agreement_with_dense,preset,seed',
    );
    expect(lines[1].startsWith(`"'=HYPERLINK(""x"")"`)).toBe(true);
    const gptq = lines.find((l) => l.includes(',GPTQ-3,'))!.split(',');
    expect(gptq.slice(9, 11)).toEqual(['1000000', '250000']);
    // A leading "-" and a digit is still a formula unless the whole cell is a number.
    for (const label of ["-1+cmd|' /C calc'!A0", '+1+1', '@SUM(1)', '-2e3-1']) {
      const row = resultsCsv({ ...doc, model: { ...doc.model, label } }).split('\n')[1];
      expect(row.replace(/^"/, '').startsWith(`'${label.slice(0, 2)}`), label).toBe(true);
    }
    expect(field(-2.5)).toBe('-2.5');
    expect(field('-12.5')).toBe('-12.5');
  });

  it('the HTML report is self-contained and shows model output and data as text', () => {
    const html = htmlReport(doc);
    expect(html).toContain('<svg');
    expect(html).not.toContain(XSS);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;a&quot;)&lt;/script&gt;');
    expect(html).toContain('model &lt;b&gt;bold&lt;/b&gt;');
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).toMatch(/packed ≈ 250 kB/);
    expect(html).toContain('the WebGPU adapter &lt;b&gt;x&lt;/b&gt; runs on the CPU');
  });

  it('the HTML report carries a CSP that allows no network and no script, before anything it governs', () => {
    const html = htmlReport(doc);
    const head = html.slice(0, html.indexOf('</head>'));
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(head);
    expect(meta, 'no CSP meta tag in the report head').not.toBeNull();
    // It precedes the stylesheet, so nothing in the document is loaded before it applies.
    expect(head.indexOf('Content-Security-Policy')).toBeLessThan(head.indexOf('<style>'));
    const directives = new Map(
      meta![1].split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    // Nothing widens the default for scripts, connections, frames or fonts.
    for (const name of ['script-src', 'script-src-elem', 'connect-src', 'frame-src', 'font-src', 'object-src', 'worker-src'])
      expect(directives.has(name), name).toBe(false);
    expect(directives.get('style-src')).toEqual(["'unsafe-inline'"]);
    expect(directives.get('img-src')).toEqual(['data:']);
    expect(html).not.toMatch(/<script\b[^>]*\bsrc=/i);
    expect(html).not.toMatch(/<link\b/i);
  });
});

describe('a run whose variant was deleted', () => {
  it('the HTML report says so next to the results, escaped', () => {
    const deleted = 'variant deleted: m · RTN <4> was removed from the cache with its base model m; these results stay';
    const html = htmlReport({ ...doc, variants: doc.variants!.map((v) => (v.id === 'rtn4' ? { ...v, deleted } : v)) });
    expect(html).toContain('RTN-4: variant deleted: m · RTN &lt;4&gt; was removed from the cache');
    expect(htmlReport(doc)).not.toContain('deleted');
  });
});

describe('fidelity to dense', () => {
  const fidelity = (kl: number, ppl: number) => ({ kl, ppl, tokens: 511, topK: 256, text: 'built-in' });
  const measured: ResultsDoc = {
    ...doc,
    variants: [
      { ...doc.variants![0], fidelity: fidelity(0, 7.5) },
      { ...doc.variants![1], fidelity: fidelity(0.0123, 7.9) },
      { ...doc.variants![2], fidelity: fidelity(1.31, 21.04) },
    ],
  };

  it('agreement compares the parsed answer where there is one, else the trimmed output text', () => {
    const dense = entry('dense', 'machine_ethics', 0, 0, [
      record('a', 'wrong.', 'wrong'),
      record('b', ' once upon a time ', null),
      record('c', 'the cat sat', null),
      record('d', 'not wrong', 'not wrong'),
    ]);
    const variant = entry('rtn3', 'machine_ethics', 0, 0, [
      record('a', 'It is wrong, clearly', 'wrong'), // same answer, other words: agrees
      record('b', 'once upon a time', null), // same text once trimmed: agrees
      record('c', 'the the the', null), // other text, nothing parsed: differs
      record('d', 'not wrong', null), // dense parsed an answer, this did not: differs
      record('e', 'wrong', 'wrong'), // an item dense did not run: not counted
    ]);
    expect(agreementBetween(variant, dense)).toBe(50);
    expect(agreementBetween(dense, dense)).toBe(100);
    expect(agreementBetween(entry('x', 'machine_ethics', 0, 0, []), dense)).toBeNull();
  });

  it('likelihood answers agree when the likeliest option is the same', () => {
    const ll = (id: string, scores: number[]): EvalRecord => ({ ...record(id, '', null), output: undefined, optionLogLikelihoods: scores });
    const asLikelihood = (e: ResultEntry): ResultEntry => ({ ...e, mode: 'likelihood' });
    const dense = asLikelihood(entry('dense', 'mmlu', 0, 0, [ll('a', [-1, -3]), ll('b', [-4, -2])]));
    const variant = asLikelihood(entry('rtn3', 'mmlu', 0, 0, [ll('a', [-1.5, -2]), ll('b', [-1, -2])]));
    expect(agreementBetween(variant, dense)).toBe(50);
    const both: ResultsDoc = { ...doc, results: [dense, variant] };
    expect(agreementWithDense(both, variant)).toBe(50);
    expect(agreementWithDense(both, dense)).toBe(100);
    // A generate-mode entry has no dense counterpart in this document.
    expect(agreementWithDense(both, entry('rtn3', 'mmlu', 0, 0, []))).toBeNull();
  });

  it('the summary carries KL, perplexity and agreement per variant and perspective', () => {
    const s = summarize(measured);
    expect(s.hasFidelity).toBe(true);
    expect(s.pplDense).toBe(7.5);
    expect(s.fidelity[0]).toEqual({ kl: 0, ppl: 7.5, agreement: [100, 100], meanAgreement: 100 });
    // rtn4: item a same answer, item b unparsed (differs); MMLU has no records to compare.
    expect(s.fidelity[1]).toEqual({ kl: 0.0123, ppl: 7.9, agreement: [50, null], meanAgreement: 50 });
    expect(s.fidelity[2].agreement[0]).toBe(50);
    // Without measured KL the agreement still stands on its own.
    expect(summarize(doc).fidelity[1]).toMatchObject({ kl: null, ppl: null, meanAgreement: 50 });
    const denseOnly: ResultsDoc = { ...doc, variants: [doc.variants![0]], results: doc.results.filter((r) => r.variant === 'dense') };
    expect(summarize(denseOnly).hasFidelity).toBe(false);
  });

  it('the heatmap shows agreement and KL as columns of their own, each on its own scale', () => {
    const option = heatmapOption(summarize(measured)) as {
      xAxis: { data: string[] };
      visualMap: { seriesIndex: number; min: number; max: number }[];
      series: { data: [number, number, number | '-'][] }[];
    };
    expect(option.xAxis.data).toEqual(['Ethics', 'MMLU', 'Agrees w/ dense %', 'KL to dense']);
    expect(option.series).toHaveLength(3);
    expect(option.series[1].data).toEqual([
      [2, 0, 50],
      [2, 1, 50],
    ]);
    expect(option.series[2].data).toEqual([
      [3, 0, 0.0123],
      [3, 1, 1.31],
    ]);
    expect(option.visualMap.map((m) => m.seriesIndex)).toEqual([0, 1, 2]);
    expect(option.visualMap[2]).toMatchObject({ min: 0, max: 1.31 });
    expect(option.visualMap[0].min).toBeLessThan(0);
    const denseOnly: ResultsDoc = { ...doc, variants: [doc.variants![0]], results: doc.results.filter((r) => r.variant === 'dense') };
    expect((heatmapOption(summarize(denseOnly)) as { series: unknown[] }).series).toHaveLength(1);
  });

  it('the bits curve can plot KL to dense', () => {
    const option = bitsCurveOption(summarize(measured), 'kl') as {
      title: { text: string };
      yAxis: { name: string; max?: number };
      series: { name: string; data: [number, number][]; markLine?: unknown }[];
    };
    expect(option.title.text).toBe('KL to dense against bits');
    expect(option.yAxis.name).toBe('nats/token');
    expect(option.yAxis.max).toBeUndefined();
    expect(option.series.map((x) => [x.name, x.data])).toEqual([
      ['RTN', [[4, 0.0123]]],
      ['GPTQ', [[3, 1.31]]],
    ]);
    expect(option.series[0].markLine).toBeUndefined();
  });

  it('the CSV carries KL, both perplexities and the cell’s agreement', () => {
    const lines = resultsCsv(measured).trim().split('\n');
    const header = lines[0].split(',');
    const col = (row: string[], name: string) => row[header.indexOf(name)];
    const rows = lines.slice(1).map((l) => l.split(','));
    const rtnEthics = rows.find((r) => col(r, 'variant') === 'RTN-4' && col(r, 'perspective') === 'machine_ethics')!;
    expect(Number(col(rtnEthics, 'kl_to_dense'))).toBe(0.0123);
    expect(col(rtnEthics, 'ppl')).toBe('7.900');
    expect(col(rtnEthics, 'ppl_dense')).toBe('7.500');
    expect(col(rtnEthics, 'agreement_with_dense')).toBe('50.0');
    const denseEthics = rows.find((r) => col(r, 'variant') === 'Dense' && col(r, 'perspective') === 'machine_ethics')!;
    expect([col(denseEthics, 'kl_to_dense'), col(denseEthics, 'agreement_with_dense')]).toEqual(['0', '100.0']);
    const rtnMmlu = rows.find((r) => col(r, 'variant') === 'RTN-4' && col(r, 'perspective') === 'mmlu')!;
    expect(col(rtnMmlu, 'agreement_with_dense')).toBe('');
    // A file from before fidelity was measured leaves the KL and perplexity columns empty.
    const old = resultsCsv(doc).trim().split('\n')[2].split(',');
    expect([col(old, 'kl_to_dense'), col(old, 'ppl'), col(old, 'ppl_dense')]).toEqual(['', '', '']);
  });

  it('the HTML report has a fidelity column group and the KL curve', () => {
    const html = htmlReport(measured);
    expect(html).toContain('<th colspan="3" scope="colgroup">Fidelity to dense</th>');
    expect(html).toMatch(/<th>tokens\/s<\/th><th[^>]*>KL<\/th><th>ppl<\/th><th>agreement<\/th>/);
    const gptqRow = html.split('\n').find((l) => l.startsWith('<tr><td>GPTQ-3</td>'))!;
    expect(gptqRow).toContain(`<td>${formatKl(1.31)}</td><td>21.04</td>`);
    expect(gptqRow).toMatch(/<td title="Ethics 50\.0% · MMLU —">50\.0%<\/td><\/tr>$/);
    expect(html).toContain('KL to dense against bits');
    expect(html).toContain('lower bound on the full KL');
  });

  it('formats KL with enough digits for small values', () => {
    expect([formatKl(0), formatKl(0.000554), formatKl(1.302), formatKl(12.34), formatKl(null)]).toEqual([
      '0',
      '0.00055',
      '1.3',
      '12.3',
      '—',
    ]);
  });
});
