import type { ByteSource } from '../storage/byte-source';

/** A safetensors file that is truncated, corrupted, or uses something this reader can't decode. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Element sizes of the safetensors dtypes we recognise; `float32()` decodes F32, F16 and BF16. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

export function isFloatDtype(s: unknown): s is FloatDtype {
  return s === 'F32' || s === 'F16' || s === 'BF16';
}

/** One tensor's entry, with `begin`/`end` as absolute byte offsets into the file. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Length of the JSON header (the u64 at the start of the file). */
  headerLength: number;
  /** Absolute offset of the data section, 8 + headerLength. */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string> | null;
}

/**
 * Real headers are kilobytes to a few MB (one line per tensor); a bigger number means we are
 * not looking at a safetensors file, and allocating it would be the first thing to go wrong.
 */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

function headerLengthOf(first8: Uint8Array, file: string, fileSize: number): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new SafetensorsError(
      `${file}: file is ${fileSize} bytes, too short to hold the 8-byte header length (truncated, or not a safetensors file)`,
    );
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `${file}: header length ${n} bytes is absurd (limit ${MAX_HEADER_BYTES}); this is not a safetensors file or its first 8 bytes are corrupted`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new SafetensorsError(
      `${file}: header length ${len} runs past the end of the file (${fileSize} bytes); the file is truncated or corrupted`,
    );
  }
  return len;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseHeader(headerBytes: Uint8Array, file: string, fileSize: number): SafetensorsHeader {
  const headerLength = headerBytes.byteLength;
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`${file}: malformed header JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(json)) {
    throw new SafetensorsError(`${file}: header is not a JSON object (got ${Array.isArray(json) ? 'an array' : typeof json})`);
  }

  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === METADATA_KEY) {
      if (entry === null) continue;
      if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new SafetensorsError(`${file}: "${METADATA_KEY}" must be an object of string values`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const bad = (why: string): never => {
      throw new SafetensorsError(`${file}: tensor "${name}" ${why}`);
    };
    if (!isObject(entry)) bad('has a header entry that is not an object');
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isDtype(dtype)) bad(`has unknown or unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) bad(`has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      bad(`has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const dt = dtype as Dtype;
    const dims = shape as number[];
    const [begin, end] = offsets as number[];
    if (begin > end) bad(`has data_offsets [${begin}, ${end}] with begin after end`);
    const elements = dims.reduce((a, b) => a * b, 1);
    const bytes = elements * DTYPE_BYTES[dt];
    if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
      bad(`has shape [${dims.join(', ')}] of ${dt} (${bytes} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
    }
    if (end > dataSize) {
      bad(`has data_offsets [${begin}, ${end}] past the end of the data section (${Math.max(0, dataSize)} bytes); the file is truncated`);
    }
    tensors.set(name, { dtype: dt, shape: dims, begin: dataStart + begin, end: dataStart + end });
  }
  checkLayout(headerBytes, tensors, file, dataStart, dataSize);
  return { headerLength, dataStart, tensors, metadata };
}

/**
 * The format requires unique names and a data section indexed entirely, without holes or overlaps:
 * a file that breaks this has aliased tensors (one write changes two weights), hidden bytes, or
 * a duplicate name that JSON parsing silently resolved to the last one.
 */
function checkLayout(headerBytes: Uint8Array, tensors: Map<string, TensorInfo>, file: string, dataStart: number, dataSize: number): void {
  // Each tensor entry has exactly one "data_offsets" key; an escaped quote inside a metadata string cannot match.
  const keys = new TextDecoder().decode(headerBytes).match(/(?<!\\)"data_offsets"\s*:/g)?.length ?? 0;
  if (keys !== tensors.size)
    throw new SafetensorsError(`${file}: the header names ${keys} tensors but only ${tensors.size} distinct ones (duplicate tensor names)`);
  const spans = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = dataStart;
  for (const [name, t] of spans) {
    if (t.begin < at)
      throw new SafetensorsError(
        `${file}: tensor "${name}" overlaps the tensor before it (its data starts at ${t.begin - dataStart}, before ${at - dataStart})`,
      );
    if (t.begin > at)
      throw new SafetensorsError(`${file}: ${t.begin - at} bytes before tensor "${name}" belong to no tensor (a gap in the data section)`);
    at = t.end;
  }
  if (at !== dataStart + dataSize)
    throw new SafetensorsError(`${file}: ${dataStart + dataSize - at} bytes after the last tensor belong to no tensor (trailing data)`);
}

/** Parses and validates the header of a safetensors file held entirely in memory. */
export function readSafetensorsHeader(bytes: Uint8Array, file = 'safetensors'): SafetensorsHeader {
  const len = headerLengthOf(bytes.subarray(0, 8), file, bytes.byteLength);
  return parseHeader(bytes.subarray(8, 8 + len), file, bytes.byteLength);
}

// --- float decoding -----------------------------------------------------------------------

// Typed arrays use the platform's byte order and safetensors is little-endian. Every platform
// the app runs on is little-endian; say so loudly instead of returning garbage elsewhere.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE binary16 bits → binary32 bits, exact (subnormals normalised, inf/NaN payload kept). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: 0.mant × 2^-14. Shift the leading one into the implicit bit, one binade per shift.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

// A 256 KB lookup table beats per-element bit twiddling on the 100M-element tensors we convert.
let f16Table: Uint32Array | null = null;
function f16ToF32Table(): Uint32Array {
  if (f16Table === null) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

/** A Uint16Array over `bytes`, copying only when the view would be misaligned. */
function u16View(bytes: Uint8Array): Uint16Array {
  const src = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
}

/**
 * Decodes little-endian F32/F16/BF16 bytes into a fresh Float32Array owned by the caller.
 * `what` names the tensor in errors.
 */
export function bytesToFloat32(bytes: Uint8Array, dtype: Dtype, what = 'tensor'): Float32Array {
  if (!LITTLE_ENDIAN) throw new SafetensorsError('big-endian platforms are not supported');
  if (!isFloatDtype(dtype)) {
    throw new SafetensorsError(`${what}: dtype ${dtype} cannot be read as float32 (supported: F32, F16, BF16)`);
  }
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new SafetensorsError(`${what}: ${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const n = bytes.byteLength / size;
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    // Copying byte-wise sidesteps the 4-byte alignment a Float32Array view would need, and
    // means the result never aliases the source (which may be the whole cached file).
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const bits = new Uint32Array(out.buffer);
  const src = u16View(bytes);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  } else {
    const table = f16ToF32Table();
    for (let i = 0; i < n; i++) bits[i] = table[src[i]];
  }
  return out;
}

// --- reader --------------------------------------------------------------------------------

/**
 * A safetensors file opened over a `ByteSource`: `open` reads only the header, each tensor is
 * read on demand, so a multi-GB checkpoint never has to be resident.
 */
export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    private readonly header: SafetensorsHeader,
  ) {}

  static async open(src: ByteSource): Promise<SafetensorsFile> {
    const first8 = src.size >= 8 ? await src.read(0, 8) : new Uint8Array(0);
    const len = headerLengthOf(first8, src.name, src.size);
    const headerBytes = await src.read(8, len);
    return new SafetensorsFile(src, parseHeader(headerBytes, src.name, src.size));
  }

  get name(): string {
    return this.source.name;
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata === null ? null : { ...this.header.metadata };
  }

  get dataStart(): number {
    return this.header.dataStart;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (t === undefined) throw new SafetensorsError(`${this.name}: no tensor named "${name}"`);
    return { ...t, shape: [...t.shape] };
  }

  /** The tensor's bytes as stored. May be a view into the source's memory: don't mutate it. */
  async raw(name: string): Promise<Uint8Array> {
    const { begin, end } = this.info(name);
    let bytes: Uint8Array;
    try {
      bytes = await this.source.read(begin, end - begin);
    } catch (e) {
      throw new SafetensorsError(`${this.name}: reading tensor "${name}" failed: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    if (bytes.byteLength !== end - begin) {
      throw new SafetensorsError(`${this.name}: reading tensor "${name}" returned ${bytes.byteLength} bytes, expected ${end - begin}`);
    }
    return bytes;
  }

  /** The tensor decoded to float32 (F32, F16, BF16), in a fresh array the caller owns. */
  async float32(name: string): Promise<Float32Array> {
    const { dtype } = this.info(name);
    if (!isFloatDtype(dtype)) {
      throw new SafetensorsError(
        `${this.name}: tensor "${name}" has dtype ${dtype}, which cannot be read as float32 (supported: F32, F16, BF16)`,
      );
    }
    return bytesToFloat32(await this.raw(name), dtype, `${this.name}: tensor "${name}"`);
  }
}

// --- writer --------------------------------------------------------------------------------

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /** Little-endian element bytes, exactly shape × dtype size long. */
  data: Uint8Array;
}

/**
 * Serialises tensors to the safetensors format. Like the reference implementation, the header
 * is space-padded so the data section starts 8-byte aligned, and tensors are laid out widest
 * dtype first (stable otherwise), which keeps every tensor naturally aligned in the file.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA_KEY) throw new SafetensorsError(`writeSafetensors: "${METADATA_KEY}" is not a valid tensor name`);
    if (seen.has(t.name)) throw new SafetensorsError(`writeSafetensors: duplicate tensor "${t.name}"`);
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw new SafetensorsError(`writeSafetensors: tensor "${t.name}" has unknown dtype ${String(t.dtype)}`);
    if (!t.shape.every((d) => isCount(d))) {
      throw new SafetensorsError(`writeSafetensors: tensor "${t.name}" has an invalid shape [${t.shape.join(', ')}]`);
    }
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new SafetensorsError(
        `writeSafetensors: tensor "${t.name}" of shape [${t.shape.join(', ')}] ${t.dtype} needs ${expected} bytes, got ${t.data.byteLength}`,
      );
    }
  }

  const ordered = tensors
    .map((t, i) => ({ t, i }))
    .sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.i - b.i)
    .map(({ t }) => t);

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const t of ordered) {
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;

  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + padded);
  let at = 8 + padded;
  for (const t of ordered) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
