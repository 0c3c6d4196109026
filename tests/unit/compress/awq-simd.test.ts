import { afterEach, describe, expect, it } from 'vitest';
import {
  awqClipSearch,
  awqConfig,
  awqLinearLoss,
  awqLinearLossFor,
  awqScaledFakeQuant,
  awqScalesForRatio,
  squaredErrorF32,
} from '../../../src/lib/compress/reference/awq';
import { linearF32Sums } from '../../../src/lib/compress/reference/block';
import type { QuantConfig } from '../../../src/lib/compress/reference/quantizer';
import { setCpuSimd, simdAwqLinearLoss, simdClipErrors } from '../../../src/lib/compress/reference/simd';
import { matrix } from '../../../src/lib/compress/reference/types';
import { normals } from './fixtures';

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('AWQ clip search on WebAssembly SIMD', () => {
  afterEach(() => {
    setCpuSimd(true);
  });

  const cases: { name: string; rows: number; cols: number; tokens: number; cfg: QuantConfig; grid?: number }[] = [
    // Over 128 rows: two passes per group, the second short; a short last group.
    { name: 'AWQ 4-bit zero point g64, 150 × 160', rows: 150, cols: 160, tokens: 40, cfg: awqConfig(4, 64, true) },
    // A 30-point grid: 15 steps, so the error lanes end in a partial vector; rows not a multiple of four.
    { name: 'AWQ 3-bit without zero point g32, 30-point grid', rows: 37, cols: 96, tokens: 33, cfg: awqConfig(3, 32, false), grid: 30 },
    { name: 'GPTQ quantizer asymmetric 4-bit g128', rows: 22, cols: 128, tokens: 64, cfg: { bits: 4, groupSize: 128, sym: false } },
  ];
  it.each(cases)('chooses the loops’ clip maxima bit for bit: $name', ({ rows, cols, tokens, cfg, grid }) => {
    const W = matrix(rows, cols, normals(rows * cols, 11));
    // Outliers make clipping worthwhile in some groups, so the choice is not always the first step.
    for (let r = 0; r < rows; r += 2) W.data[r * cols + ((r * 13) % cols)] *= 7;
    const X = matrix(tokens, cols, normals(tokens * cols, 12));
    const opts = grid ? { grid } : {};
    setCpuSimd(true);
    const simd = awqClipSearch(W, X, cfg, opts);
    setCpuSimd(false);
    const loops = awqClipSearch(W, X, cfg, opts);
    expect(bits(simd)).toEqual(bits(loops));
    const groups = simd.length / rows;
    let shrunk = 0;
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        let m0 = 0;
        for (let j = g * (cols / groups); j < Math.min(cols, (g + 1) * (cols / groups)); j++)
          m0 = Math.max(m0, Math.abs(W.data[r * cols + j]));
        if (simd[r * groups + g] < m0) shrunk++;
      }
    }
    expect(shrunk).toBeGreaterThan(0);
  });

  it('takes a pass large enough to pay for the copies, and leaves a small one to the loops', () => {
    const slab = normals(64 * 128, 1);
    const W = normals(16 * 128, 2);
    const maxima = new Float32Array(16 * 10).fill(0.5);
    expect(simdClipErrors(slab, 64, W, 0, 128, 16, 128, maxima, 10, 4, 'awq', false)).toHaveLength(160);
    expect(simdClipErrors(slab, 2, W, 0, 128, 16, 128, maxima, 10, 4, 'awq', false)).toBeNull();
  });

  it.each([
    { name: 'one sample, 4-bit g64', samples: 1, tokens: 48, outF: 160, inF: 128, cfg: awqConfig(4, 64, true) },
    {
      name: 'three samples of 21 tokens, 3-bit g32 without zero point',
      samples: 3,
      tokens: 21,
      outF: 200,
      inF: 96,
      cfg: awqConfig(3, 32, false),
    },
  ])(
    'the one-call linear loss equals the candidate, product and errors summed sample by sample: $name',
    ({ samples, tokens, outF, inF, cfg }) => {
      const T = samples * tokens;
      const X = matrix(T, inF, normals(T * inF, 31));
      const W = matrix(outF, inF, normals(outF * inF, 32, 0.2));
      const target = linearF32Sums(X.data, W.data, T, inF, outF);
      const xMean = Float32Array.from({ length: inF }, (_, j) => 0.1 + ((j * 37) % 11) / 10);
      const s = awqScalesForRatio(xMean, 0.35)!;
      // What the engine's search adds up: each sample's outputs of the candidate against its target.
      const q = awqScaledFakeQuant(W, s, cfg).data;
      let want = 0;
      for (let n = 0; n < samples; n++) {
        const y = linearF32Sums(X.data.subarray(n * tokens * inF, (n + 1) * tokens * inF), q, tokens, inF, outF);
        want += squaredErrorF32(y, target.subarray(n * tokens * outF, (n + 1) * tokens * outF));
      }
      expect(want).toBeGreaterThan(0);
      expect(simdAwqLinearLoss(X.data, T, W.data, s, outF, inF, cfg.groupSize!, cfg.bits, 'awq', cfg.sym, target, tokens)).toBe(want);
      expect(awqLinearLoss(X, W, s, cfg, target, tokens)).toBe(want);
      setCpuSimd(false);
      expect(awqLinearLoss(X, W, s, cfg, target, tokens)).toBe(want);
    },
  );

  it("a search's losses, its operands put in the module once, equal one call each, whatever runs between them", () => {
    const [T, inF, outF] = [48, 128, 160];
    const cfg = awqConfig(4, 64, true);
    const X = matrix(T, inF, normals(T * inF, 41));
    const W = matrix(outF, inF, normals(outF * inF, 42, 0.2));
    const target = linearF32Sums(X.data, W.data, T, inF, outF);
    const xMean = Float32Array.from({ length: inF }, (_, j) => 0.1 + ((j * 37) % 11) / 10);
    const candidates = [0, 0.25, 0.5, 0.75].map((r) => awqScalesForRatio(xMean, r)!);
    const want = candidates.map((s) => awqLinearLoss(X, W, s, cfg, target, 16));
    expect(new Set(want).size).toBe(candidates.length);
    const loss = awqLinearLossFor(X, W, cfg, target, 16);
    expect(candidates.map((s) => loss(s))).toEqual(want);
    // Another search, and another kernel, between two candidates: their operands took the module's memory.
    const other = awqLinearLossFor(matrix(T, inF, normals(T * inF, 43)), W, cfg, target, 16);
    expect(loss(candidates[0])).toBe(want[0]);
    other(candidates[1]);
    expect(loss(candidates[1])).toBe(want[1]);
    linearF32Sums(normals(T * outF, 44), normals(inF * outF, 45), T, outF, inF);
    expect(loss(candidates[2])).toBe(want[2]);
    expect(loss(candidates[3])).toBe(want[3]);
  });
});
