import { describe, expect, it } from 'vitest';
import { dequantizeNBits, packNBits, packQuantized, perChannelBlockSize, unpackNBits } from '../../../src/lib/compress/reference/pack';
import { quantizeRtn } from '../../../src/lib/compress/reference/quantizer';
import { unpackMatMulNBits, type PackedLinear } from '../../../src/lib/onnx/matmul-nbits';
import { randomMatrix } from './fixtures';

const codes = Uint8Array.from([1, 2, 3, 4, 5, 15, 0, 7, 8, 9]);
const zeros = Uint8Array.from([8, 3, 1, 2]);
const scales = Float32Array.from([1, 2, 3, 4]);

describe('MatMulNBits packing', () => {
  it('4-bit: even k in the low nibble, padding holds the zero point, zero points two per byte', () => {
    const p = packNBits(codes, 2, 5, 4, 4, scales, zeros);
    // [N=2, blocks=2, 2 bytes]
    expect(Array.from(p.B)).toEqual([0x21, 0x43, 0x35, 0x33, 0x0f, 0x87, 0x29, 0x22]);
    expect(Array.from(p.zeroPoints!)).toEqual([0x38, 0x21]);
    expect(Array.from(p.scales)).toEqual([1, 2, 3, 4]);
  });

  it('4-bit without zero points pads with the default 8', () => {
    const p = packNBits(codes, 2, 5, 4, 4, scales);
    expect(Array.from(p.B)).toEqual([0x21, 0x43, 0x85, 0x88, 0x0f, 0x87, 0x89, 0x88]);
    expect(p.zeroPoints).toBeUndefined();
  });

  it('4-bit zero point rows are padded to whole bytes', () => {
    // 3 blocks per row → 2 bytes per row, high nibble of the second byte unused.
    const p = packNBits(new Uint8Array(2 * 6), 2, 6, 4, 2, new Float32Array(6), Uint8Array.from([1, 2, 3, 4, 5, 6]));
    expect(Array.from(p.zeroPoints!)).toEqual([0x21, 0x03, 0x54, 0x06]);
  });

  it('8-bit: one code per byte, zero points one per byte', () => {
    const p = packNBits(codes, 2, 5, 8, 4, scales, zeros);
    expect(Array.from(p.B)).toEqual([1, 2, 3, 4, 5, 3, 3, 3, 15, 0, 7, 8, 9, 2, 2, 2]);
    expect(Array.from(p.zeroPoints!)).toEqual([8, 3, 1, 2]);
  });

  it('round-trips, and agrees with the ONNX module reader', () => {
    const W = randomMatrix(6, 40, 3);
    for (const bits of [4, 8] as const) {
      for (const sym of [true, false]) {
        const q = quantizeRtn(W, { bits, groupSize: 16, sym });
        const p = packQuantized(q);
        expect(p.zeroPoints === undefined).toBe(sym);
        const u = unpackNBits(p);
        expect(Array.from(u.codes)).toEqual(Array.from(q.codes));
        expect(Array.from(u.zeros)).toEqual(Array.from(q.zeros));
        expect(Array.from(dequantizeNBits(p))).toEqual(Array.from(q.weight.data));
        const onnx = unpackMatMulNBits({ ...p, packed: p.B } as PackedLinear);
        expect(Array.from(onnx.codes)).toEqual(Array.from(q.codes));
        expect(Array.from(onnx.zeroPoints)).toEqual(Array.from(q.zeros));
      }
    }
  });

  it('per-channel weights get one power-of-two block covering the row', () => {
    expect(perChannelBlockSize(172)).toBe(256);
    expect(perChannelBlockSize(10)).toBe(16);
    const q = quantizeRtn(randomMatrix(3, 20, 4), { bits: 4, sym: false });
    const p = packQuantized(q);
    expect(p.blockSize).toBe(32);
    expect(p.B.length).toBe(3 * 16);
    expect(Array.from(dequantizeNBits(p))).toEqual(Array.from(q.weight.data));
  });

  it('refuses 3 bits and non-contiguous groups', () => {
    expect(() => packNBits(new Uint8Array(4), 1, 4, 3, 4, new Float32Array(1))).toThrow(/4 and 8/);
    const q = quantizeRtn(randomMatrix(1, 8, 5), { bits: 4, groupSize: 4, sym: true });
    expect(() => packQuantized({ ...q, gIdx: Int32Array.from([1, 1, 1, 1, 0, 0, 0, 0]) })).toThrow(/contiguous/);
  });
});
