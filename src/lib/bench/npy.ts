/**
 * The .npy files the reference benchmark exchanges with its Python side: C-order float32 or
 * uint8 arrays, version 1.0 headers. Reading accepts what numpy and `bench/reference/npyio.py`
 * write for those two dtypes and nothing else.
 */

export type NpyArray = { shape: number[]; data: Float32Array } | { shape: number[]; data: Uint8Array };

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function encodeNpy(shape: readonly number[], data: Float32Array | Uint8Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape (${shape.join(', ')}) needs ${count} values, got ${data.length}`);
  const descr = data instanceof Float32Array ? '<f4' : '|u1';
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // The data starts on a 64-byte boundary: magic (6) + version (2) + length (2) + header + '\n'.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function decodeNpy(bytes: Uint8Array, what = 'npy'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${what}: not a .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const lenBytes = major >= 2 ? 4 : 2;
  const headerLen = lenBytes === 4 ? view.getUint32(8, true) : view.getUint16(8, true);
  const start = 8 + lenBytes + headerLen;
  const header = new TextDecoder('latin1').decode(bytes.subarray(8 + lenBytes, start));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order'\s*:\s*True/.test(header)) throw new Error(`${what}: Fortran order is not supported`);
  if (shapeText === undefined) throw new Error(`${what}: the header has no shape`);
  const shape = shapeText
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  // A copy on its own buffer (a Node Buffer's `slice` would share the pooled one, at an offset).
  const body = new Uint8Array(bytes.subarray(start));
  if (descr === '<f4') {
    if (body.byteLength < count * 4) throw new Error(`${what}: truncated data`);
    return { shape, data: new Float32Array(body.buffer, 0, count) };
  }
  if (descr === '|u1' || descr === '<u1') {
    if (body.byteLength < count) throw new Error(`${what}: truncated data`);
    return { shape, data: body.subarray(0, count) };
  }
  throw new Error(`${what}: dtype ${descr} is not supported (float32 or uint8 only)`);
}
