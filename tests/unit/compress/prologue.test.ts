import { describe, expect, it } from 'vitest';
import { gptq } from '../../../src/lib/compress/reference/gptq';
import { sparsegpt } from '../../../src/lib/compress/reference/sparsegpt';
import { FactorCache, prologue } from '../../../src/lib/compress/reference/solver';
import { HessianAccumulator } from '../../../src/lib/compress/reference/stats';
import { matrix } from '../../../src/lib/compress/reference/types';
import { correlatedX, randomMatrix } from './fixtures';

function hessian(cols: number, seed: number): Float32Array {
  const acc = new HessianAccumulator(cols);
  acc.add(correlatedX(96, cols, seed), 1);
  const H = acc.H.slice();
  // A dead input channel: its row and column are zero.
  for (let i = 0; i < cols; i++) H[3 * cols + i] = H[i * cols + 3] = 0;
  return H;
}

describe('the prologue shares a Hessian’s factor between linears', () => {
  const cols = 48;
  const H = hessian(cols, 5);
  const Wq = randomMatrix(40, cols, 1);
  const Wk = randomMatrix(16, cols, 2);

  it('linears on the same H get the factor taken once, and the same prologue as alone', () => {
    for (const actOrder of [false, true]) {
      const factors = new FactorCache();
      const a = prologue(Wq, H, { factors }, actOrder);
      const b = prologue(Wk, H.slice(), { factors }, actOrder);
      expect(b.U).toBe(a.U); // one factor object
      for (const [W, p] of [
        [Wq, a],
        [Wk, b],
      ] as const) {
        const alone = prologue(W, H, {}, actOrder);
        expect(alone.U).not.toBe(p.U);
        expect(p.U).toEqual(alone.U);
        expect(p.invd).toEqual(alone.invd);
        expect(p.W).toEqual(alone.W);
        expect(p.report).toEqual(alone.report);
      }
      expect(a.report.deadColumns).toBe(1);
    }
  });

  it('a Hessian changed in one entry, or other act_order or damping, gets its own factor', () => {
    const factors = new FactorCache();
    const a = prologue(Wq, H, { factors }, false);
    const changed = H.slice();
    changed[5 * cols + 5] *= 1.5;
    const b = prologue(Wq, changed, { factors }, false);
    expect(b.U).not.toBe(a.U);
    expect(b.U).toEqual(prologue(Wq, changed, {}, false).U);
    expect(prologue(Wq, H, { factors }, true).U).not.toBe(a.U);
    expect(prologue(Wq, H, { factors, percdamp: 0.05 }, false).U).not.toBe(a.U);
    expect(prologue(Wq, H, { factors }, false).U).toBe(a.U);
  });

  it('GPTQ and SparseGPT give the same weights with a shared factor', () => {
    const factors = new FactorCache();
    for (const W of [
      Wq,
      Wk,
      matrix(
        Wq.rows,
        cols,
        Wq.data.map((v) => -v),
      ),
    ]) {
      expect(gptq(W, H, { bits: 4, groupSize: 16, sym: false, factors }).weight).toEqual(
        gptq(W, H, { bits: 4, groupSize: 16, sym: false }).weight,
      );
      expect(sparsegpt(W, H, { sparsity: { n: 2, m: 4 }, factors }).weight).toEqual(sparsegpt(W, H, { sparsity: { n: 2, m: 4 } }).weight);
    }
  });
});
