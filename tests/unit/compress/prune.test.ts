import { describe, expect, it } from 'vitest';
import { magnitude } from '../../../src/lib/compress/reference/magnitude';
import { nmMask, rowRatioMask, wandaScores } from '../../../src/lib/compress/reference/prune';
import { matrix } from '../../../src/lib/compress/reference/types';
import { wanda } from '../../../src/lib/compress/reference/wanda';
import { normals, randomMatrix } from './fixtures';

describe('N:M masks', () => {
  it('prunes exactly N of every M consecutive inputs in every row, the smallest ones', () => {
    const W = randomMatrix(7, 32, 10);
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 4],
    ]) {
      const { weight, mask } = magnitude(W, { n, m });
      for (let r = 0; r < 7; r++) {
        for (let g = 0; g < 32; g += m) {
          const idx = Array.from({ length: m }, (_, j) => r * 32 + g + j);
          expect(idx.filter((i) => mask[i]).length).toBe(n);
          expect(idx.filter((i) => weight.data[i] === 0).length).toBe(n);
          const kept = idx.filter((i) => !mask[i]).map((i) => Math.abs(W.data[i]));
          const pruned = idx.filter((i) => mask[i]).map((i) => Math.abs(W.data[i]));
          expect(Math.max(...pruned)).toBeLessThanOrEqual(Math.min(...kept));
        }
      }
    }
  });

  it('tie rule: among equal scores the lower index is kept, the higher pruned first', () => {
    expect(Array.from(nmMask(Float32Array.from([1, 1, 1, 1]), 1, 4, 2, 4))).toEqual([0, 0, 1, 1]);
    expect(Array.from(nmMask(Float32Array.from([1, 1, 0.5, 1]), 1, 4, 2, 4))).toEqual([0, 0, 1, 1]);
    expect(Array.from(nmMask(Float32Array.from([2, 1, 3, 1]), 1, 4, 2, 4))).toEqual([0, 1, 0, 1]);
    expect(Array.from(nmMask(Float32Array.from([0, 0, 9, 0, 7, 7, 7, 7]), 1, 8, 4, 8))).toEqual([1, 1, 0, 1, 0, 0, 0, 1]);
    // magnitude sees |w|: −1 and 1 tie.
    const W = matrix(1, 4, Float32Array.from([-1, 1, -1, 2]));
    expect(Array.from(magnitude(W, { n: 2, m: 4 }).mask)).toEqual([0, 1, 1, 0]);
  });

  it('a short last group prunes ⌊N·len/M⌋', () => {
    // 10 columns with 4:8: one whole group (4 pruned) and a group of 2 (1 pruned).
    const mask = nmMask(Float32Array.from([8, 7, 6, 5, 4, 3, 2, 1, 2, 1]), 1, 10, 4, 8);
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 1]);
  });
});

describe('unstructured per-row ratio', () => {
  it('prunes ⌊cols·ratio⌋ per row with the same tie rule', () => {
    const W = randomMatrix(5, 30, 11);
    const { mask } = magnitude(W, { ratio: 0.5 });
    for (let r = 0; r < 5; r++) expect(mask.subarray(r * 30, r * 30 + 30).reduce((a, b) => a + b, 0)).toBe(15);
    expect(Array.from(rowRatioMask(Float32Array.from([3, 1, 1, 1, 2]), 1, 5, 0.4))).toEqual([0, 0, 1, 1, 0]);
    expect(Array.from(rowRatioMask(Float32Array.from([3, 1, 1, 1, 2]), 1, 5, 0))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('Wanda', () => {
  it('scores |W|·sqrt(s) (ranked as W²·s); zero-norm columns go first', () => {
    const W = matrix(1, 4, Float32Array.from([5, 1, 1, 1]));
    const s = Float32Array.from([0, 1, 1, 1]);
    expect(Array.from(wanda(W, s, { n: 2, m: 4 }).mask)).toEqual([1, 0, 0, 1]);
  });

  it('ranks like |W|·sqrt(s) on random data', () => {
    const W = randomMatrix(6, 64, 12);
    const s = normals(64, 13).map((v) => v * v * 4);
    const sc = wandaScores(W, s);
    const direct = W.data.map((w, i) => Math.abs(w) * Math.sqrt(s[i % 64]));
    expect(Array.from(nmMask(sc, 6, 64, 2, 4))).toEqual(Array.from(nmMask(Float32Array.from(direct), 6, 64, 2, 4)));
    expect(Array.from(rowRatioMask(sc, 6, 64, 0.5))).toEqual(Array.from(rowRatioMask(Float32Array.from(direct), 6, 64, 0.5)));
  });

  it('differs from magnitude when channel norms differ', () => {
    const W = matrix(1, 4, Float32Array.from([1, 2, 3, 4]));
    expect(Array.from(magnitude(W, { n: 2, m: 4 }).mask)).toEqual([1, 1, 0, 0]);
    expect(Array.from(wanda(W, Float32Array.from([100, 100, 1, 1]), { n: 2, m: 4 }).mask)).toEqual([0, 0, 1, 1]);
  });
});
