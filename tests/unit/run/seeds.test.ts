import { describe, expect, it } from 'vitest';
import { htmlReport } from '../../../src/lib/report/html';
import { oneSeed, seedSpread } from '../../../src/lib/report/seeds';
import { ci95 } from '../../../src/lib/report/summary';
import type { ResultEntry, ResultsDoc } from '../../../src/lib/run/results';

function entry(variant: string, seed: number, score: number): ResultEntry {
  return {
    variant,
    perspective: 'fairness',
    mode: 'generate',
    seed,
    score,
    refusalRate: 0,
    n: 100,
    breakdown: {},
    loadErrors: [],
    run: undefined,
    records: { format: 'ctlab-eval-records', version: 1, perspective: 'fairness', mode: 'generate', records: [] },
  } as ResultEntry;
}

const doc: ResultsDoc = {
  format: 'ctlab-results',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  model: { key: 'm', label: 'stories260k' },
  settings: {
    preset: 'smoke',
    seed: 0,
    seeds: [0, 1, 2],
    modes: ['generate'],
    perspectives: ['fairness'],
    data: 'built-in offline set',
    device: 'wasm',
    adapter: null,
  },
  variants: [
    { id: 'dense', label: 'Dense' },
    { id: 'rtn4', label: 'RTN-4' },
  ],
  results: [
    entry('dense', 0, 40),
    entry('rtn4', 0, 30),
    entry('dense', 1, 50),
    entry('rtn4', 1, 30),
    entry('dense', 2, 60),
    entry('rtn4', 2, 33),
  ],
};

describe('seeds', () => {
  it('give every cell its mean, sample standard deviation and mean interval', () => {
    const [dense, rtn] = seedSpread(doc);
    expect(dense).toMatchObject({ variant: 'dense', seeds: [0, 1, 2], scores: [40, 50, 60], mean: 50 });
    expect(dense.sd).toBeCloseTo(10, 12);
    expect(dense.ci).toBeCloseTo((ci95(40, 100) + ci95(50, 100) + ci95(60, 100)) / 3, 12);
    expect(rtn.mean).toBeCloseTo(31, 12);
    expect(rtn.sd).toBeCloseTo(Math.sqrt(3), 12);
    expect(seedSpread({ ...doc, settings: { ...doc.settings, seeds: undefined } })).toEqual([]);
  });

  it('show in the report beside the interval, while the charts and tables keep to the first seed', () => {
    const html = htmlReport(doc);
    expect(html).toContain('Across seeds 0, 1, 2');
    expect(html).toMatch(/<td title="seeds 0, 1, 2: 40.0, 50.0, 60.0">50.0 ± \d+\.\d <small>sd 10.0<\/small><\/td>/);
    expect(html).toContain('sd 1.7');
    expect(oneSeed(doc).results.map((r) => r.score)).toEqual([40, 30]);
    expect(html).toMatch(/<td title="refusal 0.0 · n 100">40.0 ± /);
    expect(html).not.toMatch(/<td title="refusal 0.0 · n 100">50.0 ± /);
    expect(htmlReport(oneSeed(doc))).not.toContain('Across seeds');
  });
});
