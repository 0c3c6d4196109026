import { describe, expect, it } from 'vitest';
import { compareThreads, type DecodeBenchRow, type ThreadsRun } from '../../../src/lib/bench/decode';

function run(
  threads: number,
  speeds: Record<'fp32' | 'q4', [number, number]>,
  isolated = true,
  prefillAt: Partial<Record<'fp32' | 'q4', Record<number, number>>> = {},
): ThreadsRun {
  const rows: DecodeBenchRow[] = (['fp32', 'q4'] as const).map((graph) => ({
    device: 'wasm',
    graph,
    prefillTokensPerSecond: speeds[graph][0],
    decodeTokensPerSecond: speeds[graph][1],
    prefillAt: Object.entries(prefillAt[graph] ?? {}).map(([tokens, tokensPerSecond]) => ({ tokens: Number(tokens), tokensPerSecond })),
    graphBytes: 1,
  }));
  return {
    threading: { isolated, cores: 2, threads },
    result: { model: 'm', adapter: null, promptTokens: 64, newTokens: 16, rows, ratios: {} },
  };
}

describe('compareThreads', () => {
  it('puts each graph at each thread count over the same graph at the fewest threads, whatever the run order', () => {
    const r = compareThreads([run(2, { fp32: [300, 30], q4: [90, 12] }), run(1, { fp32: [100, 20], q4: [60, 10] })]);
    expect(r.rows.map((x) => [x.graph, x.threads, x.prefillSpeedup, x.decodeSpeedup])).toEqual([
      ['fp32', 1, 1, 1],
      ['fp32', 2, 3, 1.5],
      ['q4', 1, 1, 1],
      ['q4', 2, 1.5, 1.2],
    ]);
    expect(r).toMatchObject({ isolated: true, cores: 2, promptTokens: 64, newTokens: 16 });
  });

  it('keeps the best speeds of a thread count measured more than once (other processes only slow a run down)', () => {
    const r = compareThreads([
      run(1, { fp32: [100, 20], q4: [60, 10] }),
      run(2, { fp32: [150, 22], q4: [90, 12] }),
      run(1, { fp32: [80, 25], q4: [30, 5] }),
      run(2, { fp32: [200, 21], q4: [40, 6] }),
    ]);
    expect(r.rows.map((x) => [x.graph, x.threads, x.prefillTokensPerSecond, x.decodeTokensPerSecond])).toEqual([
      ['fp32', 1, 100, 25],
      ['fp32', 2, 200, 22],
      ['q4', 1, 60, 10],
      ['q4', 2, 90, 12],
    ]);
    expect(r.rows[1]).toMatchObject({ prefillSpeedup: 2, decodeSpeedup: 22 / 25 });
    expect(r.repeats).toEqual({ 1: 2, 2: 2 });
  });

  it('puts the long-prompt prefills over the same length at the fewest threads, keeping the best of repeats', () => {
    const r = compareThreads([
      run(1, { fp32: [1, 1], q4: [1, 1] }, true, { fp32: { 512: 50, 256: 60 }, q4: { 256: 40, 512: 30 } }),
      run(2, { fp32: [1, 1], q4: [1, 1] }, true, { fp32: { 256: 90, 512: 80 }, q4: { 256: 20, 512: 30 } }),
      run(1, { fp32: [1, 1], q4: [1, 1] }, true, { fp32: { 256: 45, 512: 40 }, q4: { 256: 10, 512: 60 } }),
    ]);
    expect(r.rows.map((x) => [x.graph, x.threads, x.prefillAt.map((p) => [p.tokens, p.tokensPerSecond, p.speedup])])).toEqual([
      [
        'fp32',
        1,
        [
          [256, 60, 1],
          [512, 50, 1],
        ],
      ],
      [
        'fp32',
        2,
        [
          [256, 90, 1.5],
          [512, 80, 1.6],
        ],
      ],
      [
        'q4',
        1,
        [
          [256, 40, 1],
          [512, 60, 1],
        ],
      ],
      [
        'q4',
        2,
        [
          [256, 20, 0.5],
          [512, 30, 0.5],
        ],
      ],
    ]);
  });

  it('says when a run was not isolated (its rows ran on one thread)', () => {
    expect(compareThreads([run(1, { fp32: [1, 1], q4: [1, 1] }, false), run(2, { fp32: [2, 2], q4: [2, 2] })]).isolated).toBe(false);
    expect(() => compareThreads([])).toThrow(/no thread settings/);
  });
});
