import { afterEach, describe, expect, it } from 'vitest';
import { awqClipSearch, awqConfig } from '../../../src/lib/compress/reference/awq';
import type { QuantConfig } from '../../../src/lib/compress/reference/quantizer';
import { setCpuSimd, simdClipErrors } from '../../../src/lib/compress/reference/simd';
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
});
