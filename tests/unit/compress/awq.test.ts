import { describe, expect, it } from 'vitest';
import {
  applyClip,
  awqClipSearch,
  awqConfig,
  awqScaledFakeQuant,
  awqScalesForRatio,
  foldIntoNorm,
  foldIntoPreviousLinear,
  sampledTokenRows,
  scaleColumns,
  searchAwqScales,
} from '../../../src/lib/compress/reference/awq';
import { reconstructionError } from '../../../src/lib/compress/reference/error';
import { quantizeRtn } from '../../../src/lib/compress/reference/quantizer';
import { AbsMeanAccumulator } from '../../../src/lib/compress/reference/stats';
import { matrix, type Matrix } from '../../../src/lib/compress/reference/types';
import { correlatedX, normals, randomMatrix } from './fixtures';

function outputMse(W: Matrix, Wq: Matrix, X: Matrix): number {
  let s = 0;
  for (let t = 0; t < X.rows; t++) {
    for (let r = 0; r < W.rows; r++) {
      let d = 0;
      for (let j = 0; j < W.cols; j++) d += (W.data[r * W.cols + j] - Wq.data[r * W.cols + j]) * X.data[t * X.cols + j];
      s += d * d;
    }
  }
  return s / (X.rows * W.rows);
}

describe('AWQ scale search', () => {
  const X = correlatedX(128, 64, 60, { outliers: [3, 17, 40], outlierScale: 20, mix: 0.1 });
  const acc = new AbsMeanAccumulator(64);
  acc.add(X);
  const W = randomMatrix(16, 64, 61);
  const cfg = awqConfig(3, 32);

  it('candidate scales: clamp(x^ratio, 1e-4) normalised by sqrt(max·min)', () => {
    const s = awqScalesForRatio(Float32Array.from([4, 1, 0]), 0.5)!;
    // [2, 1, 1e-4] / sqrt(2e-4)
    const norm = Math.fround(Math.sqrt(Math.fround(2 * Math.fround(1e-4))));
    expect(Array.from(s)).toEqual([2, 1, Math.fround(1e-4)].map((v) => Math.fround(Math.fround(v) / norm)));
    expect(Array.from(awqScalesForRatio(Float32Array.from([4, 1, 0]), 0)!)).toEqual([1, 1, 1]);
    expect(awqScalesForRatio(Float32Array.from([Infinity, 1]), 0.5)).toBeNull();
  });

  it('picks a ratio that lowers the block loss, first strict minimum', async () => {
    const res = await searchAwqScales(acc.mean, (s) => outputMse(W, awqScaledFakeQuant(W, s, cfg), X));
    expect(res.losses).toHaveLength(20);
    expect(res.ratio).toBeGreaterThan(0);
    expect(res.loss).toBeLessThan(res.losses[0]);
    expect(res.loss).toBe(Math.min(...res.losses));
    expect(res.losses.indexOf(res.loss)).toBe(Math.round(res.ratio * 20));

    const flat = await searchAwqScales(acc.mean, () => 1);
    expect(flat.ratio).toBe(0);
    const nan = await searchAwqScales(acc.mean, (_s, r) => (r < 0.5 ? NaN : 2 - r));
    expect(nan.ratio).toBe(0.95);
    const none = await searchAwqScales(acc.mean, () => NaN);
    expect(none.fallback).toBe(true);
    expect(Array.from(none.scales).every((v) => v === 1)).toBe(true);
  });

  it('folding keeps the dense function: (x·γ/s)·(W·diag s)ᵀ = (x·γ)·Wᵀ', () => {
    const s = awqScalesForRatio(acc.mean, 0.5)!;
    const gamma = normals(64, 62).map((v) => 1 + 0.1 * v);
    const g2 = foldIntoNorm(gamma, s);
    const W2 = scaleColumns(W, s);
    const x = X.data.subarray(0, 64);
    for (let r = 0; r < 16; r++) {
      let a = 0;
      let b = 0;
      for (let j = 0; j < 64; j++) {
        a += x[j] * gamma[j] * W.data[r * 64 + j];
        b += x[j] * g2[j] * W2.data[r * 64 + j];
      }
      expect(b).toBeCloseTo(a, 3);
    }
    // Previous linear: rows /= s, so prev·next composes to the same map.
    const prev = randomMatrix(64, 8, 63);
    const { weight: p2, bias } = foldIntoPreviousLinear(prev, s, new Float32Array(64).fill(1));
    expect(bias![0]).toBeCloseTo(1 / s[0], 5);
    expect(p2.data[5 * 8 + 2]).toBeCloseTo(prev.data[5 * 8 + 2] / s[5], 6);
  });
});

describe('AWQ clip search', () => {
  it('samples every ⌊T/n⌋-th token', () => {
    expect(sampledTokenRows(10, 4)).toEqual([0, 2, 4, 6, 8]);
    expect(sampledTokenRows(3, 512)).toEqual([0, 1, 2]);
  });

  it('chooses a max no larger than max|w| per group and never raises the sampled error', () => {
    const X = correlatedX(64, 48, 64);
    const W = randomMatrix(8, 48, 65);
    // A heavy outlier weight per row makes clipping worthwhile.
    for (let r = 0; r < 8; r++) W.data[r * 48 + ((r * 7) % 48)] = 8;
    const cfg = awqConfig(3, 16);
    const best = awqClipSearch(W, X, cfg, { sampleTokens: 32 });
    expect(best).toHaveLength(8 * 3);
    let clipped = 0;
    for (let r = 0; r < 8; r++) {
      for (let g = 0; g < 3; g++) {
        let m0 = 0;
        for (let j = g * 16; j < g * 16 + 16; j++) m0 = Math.max(m0, Math.abs(W.data[r * 48 + j]));
        expect(best[r * 3 + g]).toBeLessThanOrEqual(m0);
        expect(best[r * 3 + g]).toBeGreaterThanOrEqual(0.55 * m0);
        if (best[r * 3 + g] < m0) clipped++;
      }
    }
    expect(clipped).toBeGreaterThan(0);
    const Xs = matrix(
      32,
      48,
      X.data.filter((_, i) => Math.floor(i / 48) % 2 === 0),
    );
    const plain = reconstructionError(W, quantizeRtn(W, cfg).weight, Xs);
    const withClip = reconstructionError(W, quantizeRtn(applyClip(W, best, 16), cfg).weight, Xs);
    expect(withClip).toBeLessThanOrEqual(plain);
  });
});
