import { describe, expect, it } from 'vitest';
import {
  blocksPerRow,
  dequantizeMatMulNBits,
  packMatMulNBits,
  packMatMulNBitsCodes,
  unpackMatMulNBits,
  type NBits,
} from '../../../src/lib/onnx/matmul-nbits';
import { seededRandom } from '../../../src/lib/util/rng';

const CASES: [NBits, number, boolean, number, number][] = [
  // bits, block, sym, N, K
  [4, 32, true, 8, 64],
  [4, 32, false, 8, 64],
  [4, 32, false, 5, 80], // partial last block, odd block count
  [8, 16, true, 6, 40],
  [8, 128, false, 3, 200],
];

describe.each(CASES)('%i-bit block %i sym=%s [%i, %i]', (bits, blockSize, sym, N, K) => {
  const rand = seededRandom(bits * 1000 + K);
  const w = Float32Array.from({ length: N * K }, () => (rand() - 0.3) * 2);
  const p = packMatMulNBits(w, N, K, bits, blockSize, sym);
  const blocks = blocksPerRow(K, blockSize);

  it('has the MatMulNBits layout sizes', () => {
    expect(p.packed.length).toBe(N * blocks * ((blockSize * bits) / 8));
    expect(p.scales.length).toBe(N * blocks);
    if (sym) expect(p.zeroPoints).toBeUndefined();
    else expect(p.zeroPoints!.length).toBe(N * Math.ceil((blocks * bits) / 8));
  });

  it('dequantizes within half a step of the original', () => {
    const dq = dequantizeMatMulNBits(p);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const scale = Math.abs(p.scales[n * blocks + Math.floor(k / blockSize)]);
        expect(Math.abs(dq[n * K + k] - w[n * K + k])).toBeLessThanOrEqual(scale / 2 + 1e-6);
      }
    }
  });

  it('round-trips codes through packMatMulNBitsCodes', () => {
    const { codes, zeroPoints } = unpackMatMulNBits(p);
    const again = packMatMulNBitsCodes(codes, N, K, bits, blockSize, p.scales, sym ? undefined : zeroPoints);
    expect(again.packed).toEqual(p.packed);
    expect(again.zeroPoints).toEqual(p.zeroPoints);
    expect(dequantizeMatMulNBits(again)).toEqual(dequantizeMatMulNBits(p));
  });

  it('re-quantizing the dequantized weight stays on the grid', () => {
    // Exactly idempotent when symmetric (the extreme sits on code 0); asymmetric ranges may shrink.
    const dq = dequantizeMatMulNBits(p);
    const again = dequantizeMatMulNBits(packMatMulNBits(dq, N, K, bits, blockSize, sym));
    if (sym) expect(again).toEqual(dq);
    else
      for (let i = 0; i < dq.length; i++)
        expect(Math.abs(again[i] - dq[i])).toBeLessThanOrEqual(
          Math.abs(p.scales[Math.floor(i / K) * blocks + Math.floor((i % K) / blockSize)]) / 2 + 1e-6,
        );
  });
});

describe('layout details', () => {
  it('puts the even k in the low nibble and the even block zero point in the low nibble', () => {
    // N = 1, K = 48, block 16: three blocks; codes 0..15 repeating.
    const K = 48;
    const codes = Uint8Array.from({ length: K }, (_, k) => k % 16);
    const zps = Uint8Array.of(1, 2, 3);
    const p = packMatMulNBitsCodes(codes, 1, K, 4, 16, Float32Array.of(1, 1, 1), zps);
    expect(p.packed[0]).toBe(0x10); // k0 = 0 low, k1 = 1 high
    expect(p.packed[1]).toBe(0x32);
    expect(Array.from(p.zeroPoints!)).toEqual([0x21, 0x03]);
    const dq = dequantizeMatMulNBits(p);
    expect(dq[0]).toBe(-1);
    expect(dq[16 + 5]).toBe(5 - 2);
    expect(dq[32 + 15]).toBe(15 - 3);
  });

  it('maps the block extreme to code 0 in symmetric mode, and keeps zero exact in asymmetric mode', () => {
    const w = Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? -2 : i === 5 ? 0 : (i - 8) / 10));
    const sym = packMatMulNBits(w, 1, 16, 4, 16, true);
    expect(sym.scales[0]).toBeCloseTo(0.25);
    expect(unpackMatMulNBits(sym).codes[3]).toBe(0);
    expect(dequantizeMatMulNBits(sym)[3]).toBe(-2);
    const asym = packMatMulNBits(w, 1, 16, 4, 16, false);
    expect(dequantizeMatMulNBits(asym)[5]).toBe(0);
  });

  it('handles an all-zero block', () => {
    const p = packMatMulNBits(new Float32Array(32), 1, 32, 4, 16, false);
    expect(Array.from(dequantizeMatMulNBits(p))).toEqual(new Array(32).fill(0));
  });

  it('rejects unsupported settings', () => {
    expect(() => packMatMulNBits(new Float32Array(32), 1, 32, 3 as NBits, 16, true)).toThrow(/bits/);
    expect(() => packMatMulNBits(new Float32Array(48), 1, 48, 4, 24, true)).toThrow(/power of two/);
    expect(() => packMatMulNBits(new Float32Array(10), 1, 32, 4, 16, true)).toThrow(/expected 32/);
  });
});
