import { DTYPE_BYTES, SafetensorsFile, type FloatDtype } from '../model/safetensors';
import { float32ToFloat16Bits } from '../onnx/float16';
import type { ByteSource } from '../storage/byte-source';

/**
 * Metadata key of a variant's cached (fp32) `model.safetensors` naming each tensor's dtype in the
 * base checkpoint, so an export can write every tensor back in its base dtype long after the base
 * left the cache. Absent (variants written before it existed): the export stays fp32.
 */
export const BASE_DTYPES_KEY = 'ctlab.base_dtypes';

/** Little-endian bytes of fp32 values in `dtype` (bf16 and fp16 rounded to nearest even). */
export function encodeFloats(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  if (dtype === 'BF16') bf16Encode(new Int32Array(values.buffer, values.byteOffset, values.length), out);
  else for (let i = 0; i < out.length; i++) out[i] = float32ToFloat16Bits(values[i]);
  return new Uint8Array(out.buffer);
}

/**
 * fp32 bits to bf16 bits, rounded to nearest even by adding 0x7fff plus the kept part's lowest
 * bit; a NaN stays a quiet NaN. Signed bits and shifts (the store keeps the low 16 bits) keep
 * every value an int32, where a Uint32Array's upper half comes back as doubles (2–3× slower).
 * The loop is a function of its own so that its optimised code has nothing after it to deopt on
 * (inline, each export of a large file paid for that again, about 2×).
 */
function bf16Encode(bits: Int32Array, out: Uint16Array): void {
  const n = bits.length;
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >> 16) & 1)) >> 16;
  }
}

/** fp32 bytes (4-aligned, little-endian) encoded in `dtype`. */
function encodeF32Bytes(bytes: Uint8Array, dtype: FloatDtype): Uint8Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return encodeFloats(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4), dtype);
}

/** A byte run of the exported file: header bytes, or a tensor's fp32 data re-encoded. */
interface Segment {
  /** Offset in the exported file. */
  at: number;
  bytes: number;
  /** Offset of the fp32 data in the cached file (tensor segments only). */
  src: number;
  dtype: FloatDtype;
}

/**
 * A variant's cached fp32 `model.safetensors` as exported: each tensor in the dtype the base
 * checkpoint stored it in (`BASE_DTYPES_KEY`), same names, shapes and order, re-encoded as it is
 * read so no second copy is ever stored. A cached file without that metadata is exported as is.
 */
export async function exportedSafetensors(cached: ByteSource): Promise<ByteSource> {
  const file = await SafetensorsFile.open(cached);
  const meta = file.metadata ?? {};
  const raw = meta[BASE_DTYPES_KEY];
  if (raw === undefined) return cached;
  const dtypes = JSON.parse(raw) as Record<string, FloatDtype>;
  delete meta[BASE_DTYPES_KEY];
  const names = file.names().sort((a, b) => file.info(a).begin - file.info(b).begin);
  const header: Record<string, unknown> = { __metadata__: meta };
  const tensors: Omit<Segment, 'at'>[] = [];
  let offset = 0;
  for (const name of names) {
    const info = file.info(name);
    if (info.dtype !== 'F32') throw new Error(`${cached.name}: ${name} is ${info.dtype}; a variant's cached tensors are all F32`);
    const dtype = dtypes[name] ?? 'F32';
    const bytes = ((info.end - info.begin) / 4) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: info.shape, data_offsets: [offset, offset + bytes] };
    tensors.push({ bytes, src: info.begin, dtype });
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  const segments: Segment[] = [];
  let at = head.byteLength;
  for (const t of tensors) {
    segments.push({ ...t, at });
    at += t.bytes;
  }
  const size = at;
  return {
    name: cached.name,
    size,
    read: async (start, length) => {
      if (start < 0 || length < 0 || start + length > size)
        throw new RangeError(`${cached.name}: read of ${length} bytes at ${start} is outside the exported file (${size} bytes)`);
      const out = new Uint8Array(length);
      const end = start + length;
      if (start < head.byteLength) out.set(head.subarray(start, Math.min(end, head.byteLength)));
      for (const s of segmentsIn(segments, start, end)) {
        // Whole elements only: widen the range to element bounds, encode, then cut it back.
        const width = DTYPE_BYTES[s.dtype];
        const from = Math.max(start, s.at) - s.at;
        const to = Math.min(end, s.at + s.bytes) - s.at;
        const e0 = Math.floor(from / width);
        const e1 = Math.ceil(to / width);
        const encoded = encodeF32Bytes(await cached.read(s.src + e0 * 4, (e1 - e0) * 4), s.dtype);
        out.set(encoded.subarray(from - e0 * width, to - e0 * width), s.at + from - start);
      }
      return out;
    },
  };
}

/** The tensor segments overlapping [start, end), found by binary search (thousands of tensors, many reads). */
function segmentsIn(segments: readonly Segment[], start: number, end: number): Segment[] {
  let lo = 0;
  let hi = segments.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].at + segments[mid].bytes <= start) lo = mid + 1;
    else hi = mid;
  }
  const out: Segment[] = [];
  for (let i = lo; i < segments.length && segments[i].at < end; i++) if (segments[i].bytes > 0) out.push(segments[i]);
  return out;
}
