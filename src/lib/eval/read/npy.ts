import { parse as parseNpyBuffer } from 'npyjs';
import type { DataFile } from '../types';
import { asBytes } from '../parse-util';
import { RecordError } from './records';

export interface NpyData {
  values: Array<number | string | boolean>;
  shape: number[];
  dtype: string;
}

/** Element sizes of the dtypes the fairness files use (the itemsize of `<U` is 4 bytes per character). */
const NPY_ITEM = /^[<>|=]?(?:([biuf])(1|2|4|8)|(U)(\d+)|(\?))$/;

/**
 * The header of a .npy file, checked before npyjs reads it: a dtype it can read with a non-zero
 * item size, and a shape that the data section actually holds (a `<U0` array or a shape larger
 * than the data would otherwise spin or read past the end).
 */
function checkNpyHeader(bytes: Uint8Array, path: string): void {
  const fail = (why: string): never => {
    throw new RecordError(`${path}: not a readable .npy file: ${why}`);
  };
  if (bytes.byteLength < 10 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY' || bytes[0] !== 0x93) fail('no NUMPY magic');
  const major = bytes[6];
  const lenBytes = major >= 2 ? 4 : 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 + lenBytes) fail('truncated header');
  const headerLen = lenBytes === 4 ? view.getUint32(8, true) : view.getUint16(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.byteLength) fail(`the header (${headerLen} bytes) runs past the end of the file`);
  const header = new TextDecoder().decode(bytes.subarray(8 + lenBytes, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) fail('the header has no descr or shape');
  const m = NPY_ITEM.exec(descr!);
  if (!m) fail(`unsupported dtype ${descr}`);
  const itemSize = m![2] ? Number(m![2]) : m![3] ? 4 * Number(m![4]) : 1;
  if (itemSize === 0) fail(`dtype ${descr} has elements of 0 bytes`);
  const dims = shapeText!
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (!dims.every((d) => /^\d+$/.test(d))) fail(`malformed shape (${shapeText})`);
  const count = dims.reduce((a, d) => a * Number(d), 1);
  const need = count * itemSize;
  if (!Number.isSafeInteger(need) || need > bytes.byteLength - dataStart)
    fail(`shape (${dims.join(', ')}) of ${descr} needs ${need} bytes but the file holds ${bytes.byteLength - dataStart}`);
}

/** A 1-D (or flattened) .npy array; int64 become numbers, unicode arrays strings (npyjs). */
export function readNpy(file: DataFile): NpyData {
  const bytes = asBytes(file.text);
  checkNpyHeader(bytes, file.path);
  let arr;
  try {
    arr = parseNpyBuffer(bytes.buffer);
  } catch (e) {
    throw new RecordError(`${file.path}: not a readable .npy file: ${(e as Error).message}`);
  }
  const data = arr.data as unknown;
  let values: Array<number | string | boolean>;
  if (Array.isArray(data)) values = data as Array<string | boolean>;
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) values = Array.from(data, (v) => Number(v));
  else values = Array.from(data as ArrayLike<number>);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  return { values: values.slice(0, count), shape: arr.shape, dtype: arr.dtype };
}
