/** DecodingTrust-format outputs built by hand, in the layouts its code writes. */
import { dump } from 'npyjs';
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
export const npy = (values: Array<string | number>) => new Uint8Array(dump(values as never));
export const file = (path: string, text: string): DataFile => ({ path, text });
