/** DecodingTrust's output layouts. */
import { describe, expect, it } from 'vitest';
import { completionTexts, readCachedFile } from '../../../src/lib/eval/dt-cache';
import { completion, file, msgs } from './dt-fixtures';

describe("DecodingTrust's output layouts", () => {
  it('reads pairs, {requests, responses}, JSON Lines and legacy text completions', async () => {
    const pairs = JSON.stringify([
      [msgs('a'), completion('x')],
      [msgs('b'), { choices: [{ text: 'y' }] }],
    ]);
    expect(readCachedFile(file('pairs.json', pairs)).generations.map((g) => [g.messages.at(-1)!.content, g.outputs])).toEqual([
      ['a', ['x']],
      ['b', ['y']],
    ]);
    const dict = JSON.stringify({ requests: [{ model: 'm', messages: msgs('q') }], responses: [completion('r')], labels: ['yes'] });
    expect(readCachedFile(file('dict.json', dict))).toMatchObject({ generations: [{ outputs: ['r'] }], labels: ['yes'] });
    const jsonl =
      [{ continuation: 'c1', prompt: 'p', response: completion('c1', 'c2'), message: msgs('p') }].map((x) => JSON.stringify(x)).join('\n') +
      '\n';
    expect(readCachedFile(file('x.jsonl', jsonl)).generations[0].outputs).toEqual(['c1', 'c2']);
    expect(completionTexts('plain')).toEqual(['plain']);
  });
});
