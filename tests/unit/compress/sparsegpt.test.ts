import { describe, expect, it } from 'vitest';
import { reconstructionError } from '../../../src/lib/compress/reference/error';
import { magnitude } from '../../../src/lib/compress/reference/magnitude';
import { sparsegpt } from '../../../src/lib/compress/reference/sparsegpt';
import { HessianAccumulator, WandaAccumulator } from '../../../src/lib/compress/reference/stats';
import { wanda } from '../../../src/lib/compress/reference/wanda';
import type { Matrix } from '../../../src/lib/compress/reference/types';
import { correlatedX, randomMatrix } from './fixtures';

describe('SparseGPT', () => {
  const X = correlatedX(256, 64, 50, { dead: [5] });
  const hacc = new HessianAccumulator(64);
  hacc.add(X, 2);
  const wacc = new WandaAccumulator(64);
  wacc.add(X, 2);
  const W = randomMatrix(24, 64, 51);
  const e = (Wq: Matrix) => reconstructionError(W, Wq, X);

  it('2:4 and 4:8: exactly N pruned per group, the mask matches the zeros', () => {
    for (const [n, m] of [
      [2, 4],
      [4, 8],
    ]) {
      const { weight, mask } = sparsegpt(W, hacc.H, { sparsity: { n, m }, blockSize: 16 });
      for (let r = 0; r < 24; r++) {
        for (let g = 0; g < 64; g += m) {
          let c = 0;
          for (let j = 0; j < m; j++) c += mask[r * 64 + g + j];
          expect(c).toBe(n);
        }
      }
      for (let i = 0; i < mask.length; i++) if (mask[i]) expect(weight.data[i]).toBe(0);
    }
  });

  it('beats magnitude (and Wanda) on reconstruction error', () => {
    for (const sparsity of [{ n: 2, m: 4 }, { ratio: 0.5 }]) {
      const s = e(sparsegpt(W, hacc.H, { sparsity, blockSize: 32 }).weight);
      const mag = e(magnitude(W, sparsity).weight);
      const wd = e(wanda(W, wacc.s, sparsity).weight);
      expect(s).toBeLessThan(0.8 * mag);
      expect(s).toBeLessThan(wd);
      expect(wd).toBeLessThan(mag);
    }
  });

  it('unstructured: per-block threshold over all rows prunes about the ratio', () => {
    const { mask } = sparsegpt(W, hacc.H, { sparsity: { ratio: 0.5 }, blockSize: 16 });
    const frac = mask.reduce((a, b) => a + b, 0) / mask.length;
    expect(frac).toBeGreaterThanOrEqual(0.5);
    expect(frac).toBeLessThan(0.52);
    expect(sparsegpt(W, hacc.H, { sparsity: { ratio: 0 } }).mask.every((v) => v === 0)).toBe(true);
  });

  it('needs M to divide the block size', () => {
    expect(() => sparsegpt(W, hacc.H, { sparsity: { n: 2, m: 4 }, blockSize: 10 })).toThrow(/multiple/);
  });
});
