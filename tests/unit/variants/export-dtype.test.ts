import { describe, expect, it } from 'vitest';
import { bytesToFloat32, SafetensorsFile, writeSafetensors } from '../../../src/lib/model/safetensors';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { BASE_DTYPES_KEY, encodeFloats, exportedSafetensors } from '../../../src/lib/variants/export-dtype';
import { bf16Nearest } from '../../reference/gptq-decode';

const fromBits = (b: number) => new Float32Array(new Uint32Array([b >>> 0]).buffer)[0];

describe('export dtype', () => {
  it('bf16 rounds to nearest even, ties included', () => {
    const values = new Float32Array([
      1,
      fromBits(0x3f808000), // exactly halfway, even below: stays 0x3f80
      fromBits(0x3f818000), // exactly halfway, odd below: goes up to 0x3f82
      fromBits(0x3f808001), // just above halfway: up
      fromBits(0xbf808000), // the same three below zero
      fromBits(0xbf818000),
      fromBits(0xbf808001),
      -0,
      Infinity,
      -Infinity,
      -3.4e38,
      -1e-40,
      -3.14159,
      1e-40,
      3.4e38,
      ...Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 20) - 10)),
    ]);
    const bf16 = new Uint16Array(encodeFloats(values, 'BF16').buffer);
    expect(bf16[1]).toBe(0x3f80);
    expect(bf16[2]).toBe(0x3f82);
    expect(bf16[3]).toBe(0x3f81);
    expect([bf16[4], bf16[5], bf16[6], bf16[7]]).toEqual([0xbf80, 0xbf82, 0xbf81, 0x8000]);
    const back = bytesToFloat32(new Uint8Array(bf16.buffer), 'BF16');
    // The reference rounds finite values; infinities stay themselves.
    for (let i = 0; i < values.length; i++)
      expect(back[i], `element ${i}: ${values[i]}`).toBe(Number.isFinite(values[i]) ? bf16Nearest(values[i]) : values[i]);
    expect(Number.isNaN(bytesToFloat32(encodeFloats(new Float32Array([NaN]), 'BF16'), 'BF16')[0])).toBe(true);
  });

  it('exports each tensor in its base dtype, any slice of the file the same bytes as the whole', async () => {
    const a = Float32Array.from({ length: 37 }, (_, i) => Math.cos(i) * 1.7);
    const b = Float32Array.from({ length: 20 }, (_, i) => i / 3);
    const c = Float32Array.from({ length: 11 }, (_, i) => -i / 7);
    const f32 = (x: Float32Array) => new Uint8Array(x.buffer);
    const cached = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [37], data: f32(a) },
        { name: 'b', dtype: 'F32', shape: [4, 5], data: f32(b) },
        { name: 'c', dtype: 'F32', shape: [11], data: f32(c) },
      ],
      { format: 'pt', [BASE_DTYPES_KEY]: JSON.stringify({ a: 'BF16', b: 'F16', c: 'F32' }) },
    );
    const exported = await exportedSafetensors(bytesSource('model.safetensors', cached));
    const whole = await exported.read(0, exported.size);
    const file = await SafetensorsFile.open(bytesSource('exported', whole));
    expect(file.info('a').dtype).toBe('BF16');
    expect(file.info('b')).toMatchObject({ dtype: 'F16', shape: [4, 5] });
    expect(file.info('c').dtype).toBe('F32');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(await file.float32('a'))).toEqual(Array.from(a, bf16Nearest));
    expect(Array.from(await file.float32('c'))).toEqual(Array.from(c));
    const halves = await file.float32('b');
    for (let i = 0; i < b.length; i++) expect(Math.abs(halves[i] - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 2 ** -11);
    expect(exported.size - file.dataStart).toBe(37 * 2 + 20 * 2 + 11 * 4);
    // Slices that start and end inside elements and across tensors, as a slice size that divides nothing would.
    for (const step of [1, 3, 7, 61]) {
      const parts: number[] = [];
      for (let at = 0; at < exported.size; at += step) parts.push(...(await exported.read(at, Math.min(step, exported.size - at))));
      expect(new Uint8Array(parts)).toEqual(whole);
    }
  });

  it('a cached file without base dtypes (an older variant) is exported as it is', async () => {
    const cached = writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2], data: new Uint8Array(8) }], { format: 'pt' });
    const src = bytesSource('model.safetensors', cached);
    expect(await exportedSafetensors(src)).toBe(src);
  });
});
