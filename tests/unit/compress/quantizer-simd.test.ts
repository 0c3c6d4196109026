import { afterEach, describe, expect, it } from 'vitest';
import { awqScaledFakeQuant } from '../../../src/lib/compress/reference/awq';
import { quantizeRtn, type QuantConfig } from '../../../src/lib/compress/reference/quantizer';
import { setCpuSimd, simdQuantizeRtn, simdScaledFakeQuant } from '../../../src/lib/compress/reference/simd';
import { matrix } from '../../../src/lib/compress/reference/types';

/** Seeded weights with the awkward cases: an all-zero group, −0, exact halves after scaling, a lone outlier. */
function weights(rows: number, cols: number, seed: number): Float32Array {
  const out = new Float32Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * 0.05;
  }
  out.fill(0, 0, Math.min(cols, 40));
  out[cols + 3] = -0;
  for (let j = 0; j < cols; j += 3) out[2 * cols + j] = (j % 7) * 0.25 - 0.75;
  out[3 * cols + 5] = 3;
  return out;
}

function both(W: Float32Array, rows: number, cols: number, cfg: QuantConfig) {
  setCpuSimd(true);
  const simd = quantizeRtn(matrix(rows, cols, W), cfg);
  setCpuSimd(false);
  const ts = quantizeRtn(matrix(rows, cols, W), cfg);
  return [simd, ts] as const;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('round-to-nearest quantization on WebAssembly SIMD', () => {
  afterEach(() => {
    setCpuSimd(true);
  });

  const cases: [string, QuantConfig][] = [
    ['GPTQ asymmetric 4-bit g128', { bits: 4, groupSize: 128, sym: false }],
    ['GPTQ symmetric 3-bit g64', { bits: 3, groupSize: 64, sym: true }],
    ['GPTQ asymmetric 8-bit per channel', { bits: 8, groupSize: 0, sym: false }],
    ['AWQ with zero point 4-bit g128', { bits: 4, groupSize: 128, sym: false, variant: 'awq' }],
    ['AWQ without zero point 4-bit g50 (a short last group)', { bits: 4, groupSize: 50, sym: true, variant: 'awq' }],
    ['AWQ with zero point 3-bit g30 (groups not a multiple of four)', { bits: 3, groupSize: 30, sym: false, variant: 'awq' }],
  ];
  it.each(cases)('gives the TypeScript loop’s bits: %s', (_, cfg) => {
    // Large enough for the SIMD path (it leaves small calls to the loop).
    const rows = 80;
    const cols = 258;
    const W = weights(rows, cols, cfg.bits * 31 + (cfg.groupSize ?? 0));
    expect(simdQuantizeRtn(W, rows, cols, 8, 4, 'gptq', false, 0)).not.toBeNull();
    const [s, t] = both(W, rows, cols, cfg);
    expect(bits(s.weight.data)).toEqual(bits(t.weight.data));
    expect(Array.from(s.codes)).toEqual(Array.from(t.codes));
    expect(bits(s.scales)).toEqual(bits(t.scales));
    expect(Array.from(s.zeros)).toEqual(Array.from(t.zeros));
    expect([s.groups, s.groupSize, s.bits, s.sym, s.variant]).toEqual([t.groups, t.groupSize, t.bits, t.sym, t.variant]);
    // It quantized: few distinct values per group, and not the input.
    expect(bits(s.weight.data)).not.toEqual(bits(W));
  });

  it.each(cases)('AWQ’s search candidate Q(W·diag s)·diag s⁻¹ in one module visit gives the loops’ bits: %s', (_, cfg) => {
    const rows = 80;
    const cols = 258;
    const W = weights(rows, cols, cfg.bits * 17 + 5);
    // Scales of AWQ's range (a power of x̄ normalised around 1), some far from it, and a column of 1.
    const s = Float32Array.from({ length: cols }, (_, j) => (j === 7 ? 1 : Math.fround(Math.pow(1.37, ((j * 29) % 23) - 11))));
    expect(simdScaledFakeQuant(W, s, rows, cols, 64, 4, 'awq', false)).not.toBeNull();
    setCpuSimd(true);
    const simd = awqScaledFakeQuant(matrix(rows, cols, W), s, cfg).data;
    setCpuSimd(false);
    const loops = awqScaledFakeQuant(matrix(rows, cols, W), s, cfg).data;
    expect(bits(simd)).toEqual(bits(loops));
    expect(bits(simd)).not.toEqual(bits(quantizeRtn(matrix(rows, cols, W), cfg).weight.data));
  });
});
