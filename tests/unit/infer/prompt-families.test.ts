import { describe, expect, it } from 'vitest';
import { promptFamilies } from '../../../src/lib/infer/generate-batch';
import { MIN_SHARED_PREFIX } from '../../../src/lib/infer/kv-cache';
import { prefixTreeTokens } from '../../../src/lib/infer/prompt-batches';

/** `n` ids from `start` on. */
const run = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

describe('prompt families of a batch', () => {
  it('group rows that share the minimum prefix, and put the rows alone in theirs into one group', () => {
    const demos = run(100, MIN_SHARED_PREFIX + 4);
    const story = run(500, MIN_SHARED_PREFIX);
    const prompts = [
      [...demos, 1, 2],
      [7, 8, 9],
      [...story, 3],
      [...demos, 5],
      [...story, 4, 4],
      // Shares one token short of the minimum with the demonstrations: alone.
      [...demos.slice(0, MIN_SHARED_PREFIX - 1), 9, 9],
    ];
    expect(promptFamilies(prompts)).toEqual([
      [0, 3],
      [2, 4],
      [1, 5],
    ]);
  });

  it('make one group when every row shares the prefix, and none that is empty', () => {
    const shared = run(1, MIN_SHARED_PREFIX + 1);
    expect(promptFamilies([[...shared, 2], [...shared, 1], [...shared]])).toEqual([[2, 1, 0]]);
    expect(promptFamilies([[1], [2]])).toEqual([[0, 1]]);
  });
});

describe('prefix tree tokens', () => {
  /** The same count, the slow way: every distinct prefix is one token of the tree. */
  const distinctPrefixes = (seqs: number[][]) => new Set(seqs.flatMap((s) => s.map((_, k) => s.slice(0, k + 1).join(',')))).size;

  it('counts each shared prefix once, in any order, with duplicates and nested prompts', () => {
    const a = [1, 2, 3, 4];
    const cases = [[], [a], [a, a], [a, [1, 2]], [[1, 2], a, [1, 2, 5], [9], [1, 9, 9], [1, 2, 3, 4, 5, 6]], [[3], [2], [1]]];
    for (const c of cases) expect(prefixTreeTokens(c), JSON.stringify(c)).toBe(distinctPrefixes(c));
    expect(prefixTreeTokens([a, [1, 2, 5]])).toBe(5);
    expect(
      prefixTreeTokens([
        [5, 1],
        [1, 5],
      ]),
    ).toBe(4);
    // Seeded random prompts over a small vocabulary share many prefixes.
    let x = 7;
    const next = () => (x = (x * 1103515245 + 12345) % 2147483648) % 3;
    const seqs = Array.from({ length: 40 }, () => Array.from({ length: 1 + next() * 3 + next() }, next));
    expect(prefixTreeTokens(seqs)).toBe(distinctPrefixes(seqs));
    expect(prefixTreeTokens(seqs)).toBeLessThan(seqs.reduce((n, s) => n + s.length, 0));
  });
});
