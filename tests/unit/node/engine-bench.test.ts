import { describe, expect, it } from 'vitest';
import { benchCompress } from '../../../src/lib/bench/compress';
import { engineTable, variantSettings } from '../../../src/node/engine-bench';

describe("the GPU archive's engine benchmark", () => {
  it('takes the paper grid by default: RTN, GPTQ and AWQ at 3, 4 and 8 bits and the three 2:4 prunings', () => {
    const grid = variantSettings('paper');
    expect(grid).toHaveLength(12);
    expect(grid.flatMap((s) => (s.method === 'gptq' && 'bits' in s ? [s.bits] : []))).toEqual([3, 4, 8]);
    expect(grid.filter((s) => 'sparsity' in s && s.sparsity).map((s) => s.method)).toEqual(['magnitude', 'wanda', 'sparsegpt']);
  });

  it('times each listed setting through the engine and sums them, extrapolated to 30 layers', async () => {
    const r = await benchCompress({
      layers: 1,
      samples: 1,
      seqLen: 16,
      settings: variantSettings('rtn3,rtn8,wanda2:4'),
      kernels: ['typescript'],
      forwardPasses: ['typescript'],
    });
    expect(r.rows.map((row) => row.settings)).toEqual(['RTN-3 g128', 'RTN-8 g128', 'Wanda 2:4']);
    for (const row of r.rows) expect(row.estimatedFullMs).toBeGreaterThan(row.msPerLayer * 29);
    const table = engineTable(r, 'node (test)');
    expect(table).toContain('all 3 settings');
    expect(table.split('\n').filter((l) => l.startsWith('RTN-') || l.startsWith('Wanda'))).toHaveLength(3);
  }, 120_000);
});
