import { describe, expect, it } from 'vitest';
import {
  dequantize,
  fitGroup,
  groupLayout,
  quantizeRtn,
  roundHalfEven,
  type QuantConfig,
} from '../../../src/lib/compress/reference/quantizer';
import { matrix } from '../../../src/lib/compress/reference/types';
import { randomMatrix } from './fixtures';

const row = (...v: number[]) => matrix(1, v.length, Float32Array.from(v));

describe('roundHalfEven', () => {
  it('rounds ties to even, unlike Math.round', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 7.5].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, -2, -2, 8]);
    expect(Math.round(2.5)).toBe(3);
    expect([0.49999999999999994, 2.4999999, 2.5000001, -2.5000001, 1e20 + 0.5].map(roundHalfEven)).toEqual([0, 2, 3, -3, 1e20]);
  });
});

describe('GPTQ quantizer', () => {
  it('asymmetric 4-bit: range through 0, ties to even (scale 0.25 so x/scale is exact)', () => {
    const q = quantizeRtn(row(0, 0.125, 0.375, 0.625, 0.875, 3.75), { bits: 4, sym: false });
    expect(q.scales[0]).toBe(0.25);
    expect(q.zeros[0]).toBe(0);
    expect(Array.from(q.codes)).toEqual([0, 0, 2, 2, 4, 15]);
    expect(Array.from(q.weight.data)).toEqual([0, 0, 0.5, 0.5, 1, 3.75]);
  });

  it('asymmetric zero point rounds −xmin/scale half to even', () => {
    // xmin −0.375, xmax 3.375: scale 0.25, zero = round(1.5) = 2.
    const q = quantizeRtn(row(-0.375, -0.125, 3.375), { bits: 4, sym: false });
    expect(q.scales[0]).toBe(0.25);
    expect(q.zeros[0]).toBe(2);
    expect(Array.from(q.codes)).toEqual([0, 2, 15]);
    expect(Array.from(q.weight.data)).toEqual([-0.5, 0, 3.25]);
  });

  it('symmetric 4-bit: zero 8, the positive extreme clips to 7 steps', () => {
    const q = quantizeRtn(row(-1.875, 0.3125, 0.625, -0.625, 1.875), { bits: 4, sym: true });
    expect(q.scales[0]).toBe(0.25);
    expect(q.zeros[0]).toBe(8);
    expect(Array.from(q.codes)).toEqual([0, 9, 10, 6, 15]);
    expect(Array.from(q.weight.data)).toEqual([-2, 0.25, 0.5, -0.5, 1.75]);
  });

  it('symmetric with a non-negative group keeps xmin = 0 (the reference only mirrors negative minima)', () => {
    const p = fitGroup([0.5, 1], 0, 2, { bits: 4, sym: true });
    expect(p.scale).toBe(Math.fround(1 / 15));
    expect(p.zero).toBe(8);
    const q = quantizeRtn(row(0.5, 1), { bits: 4, sym: true });
    expect(q.weight.data[1]).toBe(Math.fround(Math.fround(1 / 15) * 7));
  });

  it('an all-zero group uses the range (−1, 1)', () => {
    expect(fitGroup([0, 0], 0, 2, { bits: 3, sym: false }).scale).toBe(Math.fround(2 / 7));
    const q = quantizeRtn(row(0, 0, 0), { bits: 8, sym: true });
    expect(q.scales[0]).toBe(Math.fround(2 / 255));
    expect(Array.from(q.weight.data)).toEqual([0, 0, 0]);
  });

  it('3-bit symmetric zero is 4; 8-bit is 128', () => {
    expect(fitGroup([1, -1], 0, 2, { bits: 3, sym: true }).zero).toBe(4);
    expect(fitGroup([1, -1], 0, 2, { bits: 8, sym: true }).zero).toBe(128);
  });

  it('groups are contiguous column slices per row, the last one short', () => {
    expect(groupLayout(172, 128)).toEqual({ groupSize: 128, groups: 2 });
    expect(groupLayout(64, 0)).toEqual({ groupSize: 64, groups: 1 });
    expect(groupLayout(64, 256)).toEqual({ groupSize: 64, groups: 1 });
    const W = randomMatrix(3, 10, 1);
    const q = quantizeRtn(W, { bits: 3, groupSize: 4, sym: false });
    expect(q.groups).toBe(3);
    for (let r = 0; r < 3; r++) {
      for (let g = 0; g < 3; g++) {
        const p = fitGroup(W.data, r * 10 + g * 4, r * 10 + Math.min(10, g * 4 + 4), { bits: 3, sym: false });
        expect(q.scales[r * 3 + g]).toBe(p.scale);
      }
    }
  });

  it('codes, scales and zeros reproduce the fake-quantized weight', () => {
    for (const cfg of [
      { bits: 3, groupSize: 16, sym: true },
      { bits: 4, groupSize: 16, sym: false },
      { bits: 8, sym: true },
      { bits: 4, groupSize: 16, sym: false, variant: 'awq' },
      { bits: 3, groupSize: 16, sym: true, variant: 'awq' },
    ] satisfies QuantConfig[]) {
      const W = randomMatrix(5, 37, 2);
      const q = quantizeRtn(W, cfg);
      expect(Array.from(dequantize(q).data)).toEqual(Array.from(q.weight.data));
      expect(Math.max(...q.codes)).toBeLessThan(2 ** cfg.bits);
    }
  });
});

describe('AWQ quantizer', () => {
  it('zero point: range not forced through 0, zero = clamp(−round(min/scale))', () => {
    const q = quantizeRtn(row(-0.5, 0.25, 0.75, 3), { bits: 3, sym: false, variant: 'awq' });
    expect(q.scales[0]).toBe(0.5);
    expect(q.zeros[0]).toBe(1);
    expect(Array.from(q.weight.data)).toEqual([-0.5, 0, 1, 3]);
    // An all-positive group: zero clamps to 0, so the top of the range is lost (as in llm-awq).
    const p = quantizeRtn(row(1, 4.5), { bits: 3, sym: false, variant: 'awq' });
    expect(p.zeros[0]).toBe(0);
    expect(Array.from(p.weight.data)).toEqual([1, 3.5]);
  });

  it('floors the range at 1e-5', () => {
    const p = fitGroup([2, 2], 0, 2, { bits: 4, sym: false, variant: 'awq' });
    expect(p.scale).toBe(Math.fround(Math.fround(1e-5) / 15));
    expect(p.zero).toBe(0);
  });

  it('without zero point: codes in [−2^(b−1), 2^(b−1)−1], stored shifted', () => {
    const q = quantizeRtn(row(-4, 1, 3, 2.5), { bits: 3, sym: true, variant: 'awq' });
    expect(q.scales[0]).toBe(Math.fround(4 / 3));
    expect(q.zeros[0]).toBe(4);
    expect(Array.from(q.codes)).toEqual([1, 5, 6, 6]);
    expect(q.weight.data[0]).toBe(Math.fround(Math.fround(4 / 3) * -3));
  });
});
