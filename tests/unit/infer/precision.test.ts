import { describe, expect, it } from 'vitest';
import { choosePrecision } from '../../../src/lib/infer/causal-lm';

const f16 = { available: true, features: ['shader-f16'] };
const noF16 = { available: true, features: [] as string[] };

describe('choosePrecision', () => {
  it('a dense model: fp16 on WebGPU with shader-f16, fp32 on WASM and without it; an explicit choice wins', () => {
    expect(choosePrecision('auto', null, f16).webgpu.precision).toBe('fp16');
    expect(choosePrecision('auto', null, f16).wasm.precision).toBe('fp32');
    expect(choosePrecision('auto', null, noF16).webgpu.precision).toBe('fp32');
    expect(choosePrecision('fp16', null, null).wasm).toEqual({ precision: 'fp16', reason: 'fp16 was asked for' });
  });

  it('a 4/8-bit variant runs its fp16 graph only where one was built, and says why not otherwise', () => {
    const withHalf = choosePrecision('auto', { halfGraph: true }, f16);
    expect(withHalf.webgpu).toEqual({
      precision: 'fp16',
      reason: 'the WebGPU adapter offers shader-f16: the variant runs its fp16 MatMulNBits graph',
    });
    expect(withHalf.wasm.precision).toBe('fp32');
    expect(choosePrecision('auto', { halfGraph: true }, noF16).webgpu.precision).toBe('fp32');
    expect(choosePrecision('fp16', { halfGraph: true }, null).wasm.precision).toBe('fp16');

    const without = choosePrecision('auto', { halfGraph: false }, f16);
    expect(without.webgpu.precision).toBe('fp32');
    expect(without.webgpu.reason).toMatch(/shader-f16, but this variant was compressed without an fp16 graph/);
    const asked = choosePrecision('fp16', { halfGraph: false }, null);
    expect(asked.wasm.precision).toBe('fp32');
    expect(asked.wasm.reason).toMatch(/^fp16 was asked for, but/);
  });
});
