import { describe, expect, it } from 'vitest';
import { f16BitsToF32Bits } from '../../../src/lib/model/safetensors';
import { Float16RangeError, float16Checked, float32ToFloat16Bits } from '../../../src/lib/onnx/float16';

const back = (h: number): number => new Float32Array(new Uint32Array([f16BitsToF32Bits(h)]).buffer)[0];

describe('fp32 → fp16', () => {
  it('encodes exact values, subnormals, signs and infinities', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(float32ToFloat16Bits(0)).toBe(0);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('rounds to nearest, ties to even, and round-trips every half', () => {
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    for (let h = 0; h < 0x7c00; h += 7) {
      expect(float32ToFloat16Bits(back(h))).toBe(h);
      expect(float32ToFloat16Bits(back(h | 0x8000))).toBe(h | 0x8000);
    }
  });

  it('is within half an ulp of the fp32 value', () => {
    for (const v of [0.1, 3.14159, -123.456, 1e-4, 4e4]) {
      const h = back(float32ToFloat16Bits(v));
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(v))) - 10);
      expect(Math.abs(h - v)).toBeLessThanOrEqual(ulp / 2 + 1e-12);
    }
  });

  it('refuses a value beyond fp16, naming the tensor and the element', () => {
    const name = 'model.layers.3.mlp.down_proj.weight';
    expect(() => float16Checked(-70000, name, 17)).toThrow(Float16RangeError);
    expect(() => float16Checked(-70000, name, 17)).toThrow(/model\.layers\.3\.mlp\.down_proj\.weight holds -70000 at element 17/);
    expect(back(float16Checked(65510, name, 0))).toBe(65504); // rounds down to the largest half
  });
});
