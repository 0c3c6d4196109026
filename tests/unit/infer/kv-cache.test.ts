import { describe, expect, it } from 'vitest';
import { Tensor } from '@huggingface/transformers';
import { commonPrefixLength, MIN_SHARED_PREFIX, pastFeeds, sharedPrefixLength, type KvCache } from '../../../src/lib/infer/kv-cache';

const ids = (n: number, tail: number[] = []) => [...Array.from({ length: n }, (_, i) => i + 100), ...tail];

describe('the prefix a batch runs once', () => {
  it('is the longest one every row starts with', () => {
    expect(commonPrefixLength([ids(20, [1, 2]), ids(20, [1, 3]), ids(20, [1])])).toBe(21);
    expect(commonPrefixLength([ids(5), ids(3)])).toBe(3);
    expect(
      commonPrefixLength([
        [7, 1],
        [8, 1],
      ]),
    ).toBe(0);
    expect(commonPrefixLength([])).toBe(0);
  });

  it('leaves every row a token of its own, and is none when short or alone', () => {
    // Two equal prompts: the last token is fed with the rows, whose logits it gives.
    expect(sharedPrefixLength([ids(30), ids(30)])).toBe(29);
    expect(sharedPrefixLength([ids(30, [1]), ids(30, [2, 3])])).toBe(30);
    expect(sharedPrefixLength([ids(MIN_SHARED_PREFIX - 1, [1]), ids(MIN_SHARED_PREFIX - 1, [2])])).toBe(0);
    expect(sharedPrefixLength([ids(MIN_SHARED_PREFIX, [1]), ids(MIN_SHARED_PREFIX, [2])])).toBe(MIN_SHARED_PREFIX);
    expect(sharedPrefixLength([ids(40)])).toBe(0);
  });
});

describe('past inputs from a host cache', () => {
  it('copy the picked rows of every layer, in order, under the graph names', () => {
    // 3 rows, 2 heads, 2 positions, head size 2: element = 100·layer + 10·row + offset (+ 1000 for values).
    const size = 2 * 2 * 2;
    const layer = (l: number, base: number) =>
      Float32Array.from({ length: 3 * size }, (_, j) => base + 100 * l + 10 * Math.floor(j / size) + (j % size));
    const cache: KvCache = {
      rows: 3,
      length: 2,
      kvHeads: 2,
      headDim: 2,
      layers: [0, 1].map((l) => ({ key: layer(l, 0), value: layer(l, 1000) })),
    };
    const feeds = pastFeeds(cache, [2, 0, 2]);
    expect(Object.keys(feeds).sort()).toEqual([
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    const key1 = feeds['past_key_values.1.key'];
    expect(key1).toBeInstanceOf(Tensor);
    expect(key1.dims).toEqual([3, 2, 2, 2]);
    const rowOf = (t: Tensor, b: number) => Array.from((t.data as Float32Array).subarray(b * size, (b + 1) * size));
    expect(rowOf(key1, 0)).toEqual(Array.from(cache.layers[1].key.subarray(2 * size, 3 * size)));
    expect(rowOf(key1, 1)).toEqual(Array.from(cache.layers[1].key.subarray(0, size)));
    expect(rowOf(feeds['past_key_values.0.value'], 2)[0]).toBe(1020);
    // Copies: writing a fed row leaves the cache as it was.
    (key1.data as Float32Array)[0] = -1;
    expect(cache.layers[1].key[2 * size]).toBe(120);
  });
});
