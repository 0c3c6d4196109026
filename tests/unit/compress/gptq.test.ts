import { describe, expect, it } from 'vitest';
import { reconstructionError, reconstructionErrorFromHessian } from '../../../src/lib/compress/reference/error';
import { gptq } from '../../../src/lib/compress/reference/gptq';
import { dequantize, quantizeRtn } from '../../../src/lib/compress/reference/quantizer';
import { HessianAccumulator } from '../../../src/lib/compress/reference/stats';
import { matrix, type Matrix } from '../../../src/lib/compress/reference/types';
import { correlatedX, randomMatrix } from './fixtures';

function hessianOf(X: Matrix): Float32Array {
  const acc = new HessianAccumulator(X.cols);
  acc.add(X, 1);
  return acc.H;
}

function scaledIdentity(n: number, c: number): Float32Array {
  const h = new Float32Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = c;
  return h;
}

describe('GPTQ', () => {
  it('with H = c·I (no cross-column error to spread) equals RTN, groups and act_order included', () => {
    const W = randomMatrix(6, 40, 40);
    for (const opts of [
      { bits: 4, groupSize: 16, sym: true },
      { bits: 3, groupSize: 0, sym: false },
      { bits: 8, groupSize: 32, sym: false, blockSize: 16 },
    ]) {
      const g = gptq(W, scaledIdentity(40, 3), opts);
      const r = quantizeRtn(W, opts);
      expect(Array.from(g.weight.data)).toEqual(Array.from(r.weight.data));
      expect(Array.from(g.codes)).toEqual(Array.from(r.codes));
      expect(Array.from(g.scales)).toEqual(Array.from(r.scales));
      expect(Array.from(g.zeros)).toEqual(Array.from(r.zeros));
      expect(g.report.retries).toBe(0);
    }
  });

  it('lowers the reconstruction error against RTN on correlated inputs', () => {
    const X = correlatedX(256, 64, 41);
    const H = hessianOf(X);
    const W = randomMatrix(32, 64, 42);
    for (const [bits, groupSize] of [
      [3, 32],
      [4, 0],
      [3, 0],
    ]) {
      const e = (Wq: Matrix) => reconstructionError(W, Wq, X);
      const g = gptq(W, H, { bits, groupSize, blockSize: 16 }).weight;
      const r = quantizeRtn(W, { bits, groupSize, sym: true }).weight;
      expect(e(g)).toBeLessThan(0.75 * e(r));
      expect(reconstructionErrorFromHessian(W, g, H)).toBeCloseTo(e(g), 4);
    }
  });

  it('undoes the act_order permutation: same result as quantizing pre-permuted inputs in order', () => {
    const X = correlatedX(128, 24, 43);
    const H = hessianOf(X);
    const W = randomMatrix(5, 24, 44);
    const withOrder = gptq(W, H, { bits: 3, groupSize: 8, actOrder: true, blockSize: 8 });
    const perm = withOrder.report.perm!;
    expect(Array.from(perm).sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(Array.from(perm)).not.toEqual(Array.from({ length: 24 }, (_, i) => i));
    for (let i = 1; i < 24; i++) expect(H[perm[i - 1] * 25]).toBeGreaterThanOrEqual(H[perm[i] * 25]);

    const Wp = matrix(5, 24);
    const Hp = new Float32Array(24 * 24);
    for (let r = 0; r < 5; r++) for (let j = 0; j < 24; j++) Wp.data[r * 24 + j] = W.data[r * 24 + perm[j]];
    for (let i = 0; i < 24; i++) for (let j = 0; j < 24; j++) Hp[i * 24 + j] = H[perm[i] * 24 + perm[j]];
    const inOrder = gptq(Wp, Hp, { bits: 3, groupSize: 8, actOrder: false, blockSize: 8 });
    for (let r = 0; r < 5; r++) {
      for (let j = 0; j < 24; j++) {
        expect(withOrder.weight.data[r * 24 + perm[j]]).toBe(inOrder.weight.data[r * 24 + j]);
        expect(withOrder.codes[r * 24 + perm[j]]).toBe(inOrder.codes[r * 24 + j]);
      }
    }
    // Groups follow activation order: g_idx maps each original column to its group.
    for (let j = 0; j < 24; j++) expect(withOrder.gIdx![perm[j]]).toBe(Math.floor(j / 8));
    expect(Array.from(dequantize(withOrder).data)).toEqual(Array.from(withOrder.weight.data));
  });

  it('zeroes dead input channels and still factors H', () => {
    const X = correlatedX(64, 16, 45, { dead: [3, 9] });
    const W = randomMatrix(4, 16, 46);
    const g = gptq(W, hessianOf(X), { bits: 4, groupSize: 0, actOrder: false });
    expect(g.report.deadColumns).toBe(2);
    for (let r = 0; r < 4; r++) {
      expect(g.weight.data[r * 16 + 3]).toBe(0);
      expect(g.weight.data[r * 16 + 9]).toBe(0);
    }
  });

  it('per-channel params are fitted once on W as given, like the reference', () => {
    const W = randomMatrix(3, 12, 47);
    const g = gptq(W, scaledIdentity(12, 1), { bits: 4, groupSize: 0, sym: false });
    expect(Array.from(g.scales)).toEqual(Array.from(quantizeRtn(W, { bits: 4, sym: false }).scales));
  });
});
