import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource } from '../../../src/lib/storage/byte-source';
import {
  MAX_HEADER_BYTES,
  SafetensorsError,
  SafetensorsFile,
  bytesToFloat32,
  f16BitsToF32Bits,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../../src/lib/model/safetensors';
import { f16Value, f32Bytes, rawSafetensors, storiesBytes, u16Bytes } from './helpers';

/** The stories260k header parsed by hand, independently of the reader under test. */
function handParsedHeader(bytes: Uint8Array): {
  n: number;
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
} {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const open = (bytes: Uint8Array, name = 'model.safetensors') => SafetensorsFile.open(bytesSource(name, bytes));

describe('reading stories260k/model.safetensors', () => {
  const bytes = storiesBytes();
  const { n, header } = handParsedHeader(bytes);
  const tensorNames = Object.keys(header).filter((k) => k !== '__metadata__');

  it('lists every tensor of the header with its shape and absolute offsets', async () => {
    const f = await open(bytes);
    expect(f.names()).toEqual(tensorNames);
    expect(f.names()).toHaveLength(1 + 5 * 9 + 1);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.dataStart).toBe(8 + n);
    for (const name of tensorNames) {
      const h = header[name];
      expect(f.info(name)).toEqual({ dtype: h.dtype, shape: h.shape, begin: 8 + n + h.data_offsets[0], end: 8 + n + h.data_offsets[1] });
    }
    // The last tensor ends exactly at the end of the file.
    expect(Math.max(...tensorNames.map((t) => f.info(t).end))).toBe(bytes.byteLength);
  });

  it('reads every tensor as float32 with the right element count and values', async () => {
    const f = await open(bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    let total = 0;
    for (const name of tensorNames) {
      const { shape, data_offsets } = header[name];
      const a = await f.float32(name);
      expect(a.length).toBe(shape.reduce((x, y) => x * y, 1));
      const start = 8 + n + data_offsets[0];
      for (const i of [0, 1, a.length >> 1, a.length - 1]) expect(a[i]).toBe(dv.getFloat32(start + 4 * i, true));
      expect(a.every(Number.isFinite)).toBe(true);
      total += a.length;
    }
    expect(total * 4).toBe(bytes.byteLength - 8 - n);
  });

  it('returns arrays the caller owns (writing them leaves the file intact)', async () => {
    const f = await open(bytes);
    const a = await f.float32('model.norm.weight');
    const before = a[0];
    a[0] = 12345;
    expect((await f.float32('model.norm.weight'))[0]).toBe(before);
  });

  it('copes with a source whose bytes are not 4-byte aligned', async () => {
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 1);
    const f = await open(shifted.subarray(1, 1 + bytes.byteLength));
    const a = await f.float32('model.layers.3.mlp.down_proj.weight');
    expect(a).toEqual(await (await open(bytes)).float32('model.layers.3.mlp.down_proj.weight'));
  });

  it('reads through a Blob source and agrees with readSafetensorsHeader', async () => {
    const f = await SafetensorsFile.open(blobSource('model.safetensors', new Blob([bytes])));
    const h = readSafetensorsHeader(bytes, 'model.safetensors');
    expect(h.headerLength).toBe(n);
    expect([...h.tensors.keys()]).toEqual(f.names());
    expect(h.tensors.get('model.embed_tokens.weight')).toEqual(f.info('model.embed_tokens.weight'));
    expect(await f.float32('model.layers.0.self_attn.k_proj.weight')).toEqual(
      await (await open(bytes)).float32('model.layers.0.self_attn.k_proj.weight'),
    );
  });

  it('reads only the header on open', async () => {
    const reads: [number, number][] = [];
    const src = bytesSource('model.safetensors', bytes);
    await SafetensorsFile.open({ ...src, read: (o, l) => (reads.push([o, l]), src.read(o, l)) });
    expect(reads).toEqual([
      [0, 8],
      [8, n],
    ]);
  });
});

describe('float decoding', () => {
  it('decodes F16 specials exactly', async () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0000, 0],
      [0x8000, -0],
      [0x0001, 2 ** -24],
      [0x8001, -(2 ** -24)],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const bits = [...cases.map(([h]) => h), 0x7e00, 0xfe01];
    const file = writeSafetensors([{ name: 'h', dtype: 'F16', shape: [bits.length], data: u16Bytes(bits) }]);
    const a = await (await open(file, 'f16.safetensors')).float32('h');
    cases.forEach(([, v], i) => expect(Object.is(a[i], v), `0x${bits[i].toString(16)} → ${a[i]}, want ${v}`).toBe(true));
    expect(Number.isNaN(a[cases.length])).toBe(true);
    expect(Number.isNaN(a[cases.length + 1])).toBe(true);
  });

  it('decodes all 65536 F16 patterns like the textbook formula', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h);
    const a = bytesToFloat32(u16Bytes(all), 'F16');
    for (let h = 0; h < 65536; h++) {
      const want = f16Value(h);
      if (!(Number.isNaN(want) ? Number.isNaN(a[h]) : Object.is(a[h], want))) {
        throw new Error(`0x${h.toString(16)}: got ${a[h]}, want ${want}`);
      }
    }
    // NaN payloads survive (quiet bit and low bits), which matters for bit-exact round trips.
    expect(f16BitsToF32Bits(0x7e01)).toBe(0x7fc02000);
  });

  it('decodes BF16 as the top half of an F32', async () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625],
      [0x8000, -0],
      [0x0001, 2 ** -133],
      [0x7f7f, 3.3895313892515355e38],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
    ];
    const bits = [...cases.map(([h]) => h), 0x7fc0];
    const file = writeSafetensors([{ name: 'b', dtype: 'BF16', shape: [3, 3], data: u16Bytes(bits) }]);
    const a = await (await open(file)).float32('b');
    cases.forEach(([, v], i) => expect(Object.is(a[i], v), `0x${bits[i].toString(16)}`).toBe(true));
    expect(Number.isNaN(a[8])).toBe(true);
  });

  it('decodes F16 and BF16 from odd byte offsets', () => {
    const buf = new Uint8Array(9);
    buf.set(u16Bytes([0x3c00, 0xc000, 0x7bff, 0x0001]), 1);
    expect([...bytesToFloat32(buf.subarray(1), 'F16')]).toEqual([1, -2, 65504, 2 ** -24]);
    buf.set(u16Bytes([0x3f80, 0xc000, 0x4049, 0x7f80]), 1);
    expect([...bytesToFloat32(buf.subarray(1), 'BF16')]).toEqual([1, -2, 3.140625, Infinity]);
  });
});

describe('writeSafetensors', () => {
  const f32 = f32Bytes([1, 2, 3, 4, 5, 6]);
  const f16 = u16Bytes([0x3c00, 0x4000, 0x4200]);

  it('writes a space-padded header, 8-byte-aligned data and widest dtype first', () => {
    const file = writeSafetensors(
      [
        { name: 'half', dtype: 'F16', shape: [3], data: f16 },
        { name: 'full', dtype: 'F32', shape: [2, 3], data: f32 },
      ],
      { format: 'pt' },
    );
    const { n, header } = handParsedHeader(file);
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(file.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.lastIndexOf('}') + 1))).toBe(true);
    expect(header).toEqual({
      __metadata__: { format: 'pt' },
      full: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      half: { dtype: 'F16', shape: [3], data_offsets: [24, 30] },
    });
    expect(file.byteLength).toBe(8 + n + 30);
  });

  it('round-trips through the reader', async () => {
    const file = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [2, 3], data: f32 },
      { name: 'scalar', dtype: 'F32', shape: [], data: f32Bytes([7]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
      { name: 'q', dtype: 'I8', shape: [4], data: new Uint8Array([1, 255, 3, 128]) },
    ]);
    const f = await open(file);
    expect(f.metadata).toBeNull();
    expect([...(await f.float32('a'))]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(await f.float32('scalar'))]).toEqual([7]);
    expect((await f.float32('empty')).length).toBe(0);
    expect([...(await f.raw('q'))]).toEqual([1, 255, 3, 128]);
  });

  it('refuses data of the wrong length and duplicate names', () => {
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2, 2], data: f32 }])).toThrow(SafetensorsError);
    expect(() =>
      writeSafetensors([
        { name: 'a', dtype: 'F16', shape: [3], data: f16 },
        { name: 'a', dtype: 'F16', shape: [3], data: f16 },
      ]),
    ).toThrow(/duplicate tensor "a"/);
  });
});

describe('bad input', () => {
  const good = storiesBytes();

  async function openError(bytes: Uint8Array, name = 'model.safetensors'): Promise<Error> {
    const e = await rejection(open(bytes, name));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message.startsWith(`${name}: `)).toBe(true);
    return e;
  }

  it('names a file too short for the header length', async () => {
    expect((await openError(good.subarray(0, 5))).message).toMatch(/5 bytes, too short .*truncated/);
    expect((await openError(new Uint8Array(0), 'empty.safetensors')).message).toMatch(/0 bytes, too short/);
  });

  it('names a header that runs past the end (truncated inside the header)', async () => {
    expect((await openError(good.subarray(0, 1000))).message).toMatch(/header length 4856 runs past the end of the file \(1000 bytes\)/);
  });

  it('names a file truncated inside the data section and the tensor that overruns', async () => {
    const e = await openError(good.subarray(0, good.byteLength - 100));
    expect(e.message).toMatch(/tensor "model.norm.weight" has data_offsets \[1039872, 1040128\] past the end of the data section/);
    expect(e.message).toMatch(/truncated/);
  });

  it('names a corrupted header length', async () => {
    const bytes = good.slice();
    const dv = new DataView(bytes.buffer);
    dv.setBigUint64(0, BigInt(bytes.byteLength), true);
    expect((await openError(bytes)).message).toMatch(/runs past the end of the file/);
    dv.setBigUint64(0, 2n ** 64n - 1n, true);
    expect((await openError(bytes)).message).toMatch(/header length 18446744073709551615 bytes is absurd/);
    dv.setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    expect((await openError(bytes)).message).toMatch(/is absurd/);
  });

  it('names a header that is not JSON, not UTF-8, or not an object', async () => {
    expect((await openError(rawSafetensors('{"a": {"dtype": "F32",'))).message).toMatch(/malformed header JSON/);
    expect((await openError(rawSafetensors('        '))).message).toMatch(/malformed header JSON/);
    const badUtf8 = rawSafetensors('{"a":1}');
    badUtf8[10] = 0xff;
    expect((await openError(badUtf8)).message).toMatch(/malformed header JSON/);
    expect((await openError(rawSafetensors('[1, 2]'))).message).toMatch(/header is not a JSON object \(got an array\)/);
    expect((await openError(rawSafetensors('42'))).message).toMatch(/header is not a JSON object/);
  });

  it('names a tensor with an unknown dtype', async () => {
    const e = await openError(rawSafetensors('{"w": {"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 2]}}', new Uint8Array(2)));
    expect(e.message).toMatch(/tensor "w" has unknown or unsupported dtype "Q4_K"/);
  });

  it('reads integer tensors raw but refuses them as float32', async () => {
    const f = await open(rawSafetensors('{"idx": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}', new Uint8Array(8)));
    expect((await f.raw('idx')).byteLength).toBe(8);
    const e = await rejection(f.float32('idx'));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toMatch(/model.safetensors: tensor "idx" has dtype I64, which cannot be read as float32/);
  });

  it('names a shape that disagrees with the byte span', async () => {
    const e = await openError(rawSafetensors('{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}', new Uint8Array(24)));
    expect(e.message).toMatch(/tensor "w" has shape \[2, 3\] of F32 \(24 bytes\) but data_offsets \[0, 20\] span 20 bytes/);
  });

  it('names begin after end', async () => {
    const e = await openError(rawSafetensors('{"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}', new Uint8Array(8)));
    expect(e.message).toMatch(/tensor "w" has data_offsets \[8, 4\] with begin after end/);
  });

  it('names offsets that overrun the data section', async () => {
    const e = await openError(rawSafetensors('{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', new Uint8Array(12)));
    expect(e.message).toMatch(/tensor "w" has data_offsets \[0, 16\] past the end of the data section \(12 bytes\)/);
  });

  it('names malformed entries and metadata', async () => {
    await openError(rawSafetensors('{"w": [1]}'));
    expect((await openError(rawSafetensors('{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}'))).message).toMatch(
      /invalid shape/,
    );
    expect((await openError(rawSafetensors('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}'))).message).toMatch(
      /invalid data_offsets/,
    );
    expect((await openError(rawSafetensors('{"__metadata__": {"n": 3}}'))).message).toMatch(
      /"__metadata__" must be an object of string values/,
    );
  });

  it('names an unknown tensor', async () => {
    const f = await open(good);
    expect(() => f.info('lm_head.weight')).toThrow(/model.safetensors: no tensor named "lm_head.weight"/);
  });

  it('names the tensor when the source fails mid-read', async () => {
    const src = bytesSource('model.safetensors', good);
    const f = await SafetensorsFile.open({
      ...src,
      read: (o, l) => (o > 8 + 4856 ? Promise.reject(new Error('quota gone')) : src.read(o, l)),
    });
    const e = await rejection(f.float32('model.norm.weight'));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toMatch(/reading tensor "model.norm.weight" failed: quota gone/);
  });
});

describe('layout rules of the format (unique names, data indexed entirely)', () => {
  const f32 = (begin: number, end: number) => ({ dtype: 'F32', shape: [(end - begin) / 4], data_offsets: [begin, end] });
  const file = (header: Record<string, unknown>, dataBytes: number, raw?: string) =>
    rawSafetensors(raw ?? JSON.stringify(header), new Uint8Array(dataBytes));
  const refusal = (bytes: Uint8Array) => {
    try {
      readSafetensorsHeader(bytes, 'x.safetensors');
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('accepts contiguous tensors in any header order, zero-size ones included', () => {
    expect(readSafetensorsHeader(file({ b: f32(8, 16), a: f32(0, 8), z: f32(16, 16) }, 16)).tensors.size).toBe(3);
  });

  it('refuses aliased or overlapping tensors, gaps, trailing bytes and duplicate names', () => {
    expect(refusal(file({ a: f32(0, 8), b: f32(0, 8) }, 8))).toMatch(/x\.safetensors: tensor "b" overlaps/);
    expect(refusal(file({ a: f32(0, 8), b: f32(4, 12) }, 12))).toMatch(/overlaps/);
    expect(refusal(file({ a: f32(0, 8), b: f32(12, 16) }, 16))).toMatch(/4 bytes before tensor "b" belong to no tensor/);
    expect(refusal(file({ a: f32(4, 12) }, 12))).toMatch(/4 bytes before tensor "a"/);
    expect(refusal(file({ a: f32(0, 8) }, 12))).toMatch(/4 bytes after the last tensor .*trailing/);
    const dup = `{"a":${JSON.stringify(f32(0, 8))},"a":${JSON.stringify(f32(8, 16))}}`;
    expect(refusal(file({}, 16, dup))).toMatch(/2 tensors but only 1 distinct .*duplicate/);
    // a metadata string that mentions the key is not a tensor
    const meta = JSON.stringify({ __metadata__: { note: '"data_offsets": [0, 8]' }, a: f32(0, 8) });
    expect(refusal(file({}, 8, meta))).toBe('accepted');
  });
});
