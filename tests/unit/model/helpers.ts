import { readFileSync } from 'node:fs';

export const STORIES_DIR = '/work/shared/models/stories260k';
export const SMOLLM_TOKENIZER_DIR = '/work/shared/models/smollm2-135m-instruct-tokenizer';

export function storiesBytes(): Uint8Array<ArrayBuffer> {
  // Copy into a buffer of our own: Node may hand back a pooled Buffer that tests then mutate.
  return new Uint8Array(readFileSync(`${STORIES_DIR}/model.safetensors`));
}

export function storiesConfig(): unknown {
  return JSON.parse(readFileSync(`${STORIES_DIR}/config.json`, 'utf8'));
}

/** binary16 bits → number by the textbook formula, an oracle independent of the reader's code. */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

export function u16Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return out;
}

export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
  return out;
}

/** A file with a hand-written header, for inputs the writer would refuse to produce. */
export function rawSafetensors(headerText: string, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}
