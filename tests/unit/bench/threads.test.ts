import { describe, expect, it } from 'vitest';
import { compareThreads, type DecodeBenchRow, type ThreadsRun } from '../../../src/lib/bench/decode';

function run(threads: number, speeds: Record<'fp32' | 'q4', [number, number]>, isolated = true): ThreadsRun {
  const rows: DecodeBenchRow[] = (['fp32', 'q4'] as const).map((graph) => ({
    device: 'wasm',
    graph,
    prefillTokensPerSecond: speeds[graph][0],
    decodeTokensPerSecond: speeds[graph][1],
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

  it('says when a run was not isolated (its rows ran on one thread)', () => {
    expect(compareThreads([run(1, { fp32: [1, 1], q4: [1, 1] }, false), run(2, { fp32: [2, 2], q4: [2, 2] })]).isolated).toBe(false);
    expect(() => compareThreads([])).toThrow(/no thread settings/);
  });
});
