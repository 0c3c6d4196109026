import { describe, expect, it } from 'vitest';
import { promptFamilies } from '../../../src/lib/infer/generate-batch';
import { MIN_SHARED_PREFIX } from '../../../src/lib/infer/kv-cache';

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
