/** DecodingTrust-format outputs built by hand, in the layouts its code writes. */
import type { ChatMessage, DataFile } from '../../../src/lib/eval/types';

export const completion = (...texts: string[]) => ({
  id: 'chatcmpl-x',
  object: 'chat.completion',
  choices: texts.map((t, index) => ({ index, message: { role: 'assistant', content: t }, finish_reason: 'stop' })),
});
export const msgs = (user: string): ChatMessage[] => [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: user },
];
/** A 1-D .npy file as numpy writes it: `<U{n}` for strings (UTF-32), `<i8` for integers. */
export function npy(values: Array<string | number>): Uint8Array {
  const strings = values.some((v) => typeof v === 'string');
  const width = strings ? Math.max(1, ...values.map((v) => String(v).length)) : 8;
  const descr = strings ? `<U${width}` : '<i8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const item = strings ? 4 * width : 8;
  const out = new Uint8Array(10 + header.length + values.length * item);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = 10 + header.length + i * item;
    if (!strings) view.setBigInt64(at, BigInt(v), true);
    else [...String(v)].forEach((ch, k) => view.setUint32(at + 4 * k, ch.codePointAt(0)!, true));
  });
  return out;
}
export const file = (path: string, text: string): DataFile => ({ path, text });
