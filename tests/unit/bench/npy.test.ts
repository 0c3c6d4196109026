import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../../src/lib/bench/npy';

describe('npy files of the reference benchmark', () => {
  it('round-trip float32 and uint8 arrays with the data 64-byte aligned', () => {
    const f = Float32Array.from([1.5, -2, 3e-8, 4, 5, 6]);
    const bytes = encodeNpy([2, 3], f);
    expect((bytes.length - f.byteLength) % 64).toBe(0);
    expect(decodeNpy(bytes)).toEqual({ shape: [2, 3], data: f });
    const u = Uint8Array.from([1, 0, 1]);
    expect(decodeNpy(encodeNpy([3], u))).toEqual({ shape: [3], data: u });
  });

  it('reads an array that sits at an offset inside a larger buffer (a pooled Node Buffer)', () => {
    const f = Float32Array.from([7, 8, 9]);
    const inner = encodeNpy([3], f);
    const pool = new Uint8Array(inner.length + 13);
    pool.set(inner, 13);
    // Buffer#slice shares memory, unlike Uint8Array#slice: what readFileSync hands over.
    expect(decodeNpy(Buffer.from(pool.buffer, 13, inner.length)).data).toEqual(f);
  });

  it('refuses other dtypes and shapes the data does not hold', () => {
    const bytes = encodeNpy([2], Float32Array.from([1, 2]));
    const text = new TextDecoder('latin1').decode(bytes).replace('<f4', '<f8');
    expect(() => decodeNpy(Uint8Array.from(text, (c) => c.charCodeAt(0)))).toThrow(/dtype <f8/);
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
  });
});
