import { describe, expect, it } from 'vitest';
import type { EvalRecord } from '../../src/lib/eval';
import { field, resultsCsv } from '../../src/lib/report/csv';
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
      'model,variant,perspective,mode,score,ci95,refusal_rate,n,scorer,bytes,ideal_bytes,tokens_per_second,preset,seed',
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
