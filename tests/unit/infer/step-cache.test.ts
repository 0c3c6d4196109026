import { describe, expect, it } from 'vitest';
import { Tensor } from '@huggingface/transformers';
import type { ModelSpec } from '../../../src/lib/model/spec';
import { newKeyName, pastKeyName } from '../../../src/lib/onnx';
import { HostStepCache, ortOf, type OrtTensor } from '../../../src/lib/infer/step-cache';

const SPEC = { numLayers: 2, numKvHeads: 3, headDim: 4 } as ModelSpec;
const { numKvHeads: KVH, headDim: D } = SPEC;

/** [rows, KVH, length, D] values that name their layer, kind, row, head, position and lane. */
function block(layer: number, kind: number, rows: number[], positions: number[]): Float32Array {
  const out: number[] = [];
  for (const r of rows)
    for (let h = 0; h < KVH; h++)
      for (const t of positions) for (let d = 0; d < D; d++) out.push(((((layer * 2 + kind) * 10 + r) * 10 + h) * 100 + t) * 10 + d);
  return Float32Array.from(out);
}

/** A run's `new_key_values` outputs for the rows `rows` at the positions `positions`. */
function newKeys(rows: number[], positions: number[]): Record<string, OrtTensor> {
  const out: Record<string, OrtTensor> = {};
  for (let i = 0; i < SPEC.numLayers; i++)
    (['key', 'value'] as const).forEach((kind, k) => {
      out[newKeyName(i, kind)] = ortOf(new Tensor('float32', block(i, k, rows, positions), [rows.length, KVH, positions.length, D]));
    });
  return out;
}

function expectPast(cache: HostStepCache, rows: number[], positions: number[]) {
  const feeds = cache.feeds();
  for (let i = 0; i < SPEC.numLayers; i++)
    (['key', 'value'] as const).forEach((kind, k) => {
      const t = feeds[pastKeyName(i, kind)];
      expect(t.dims).toEqual([rows.length, KVH, positions.length, D]);
      expect(Array.from(t.data as Float32Array)).toEqual(Array.from(block(i, k, rows, positions)));
    });
}

describe('the batch decoder cache in host memory', () => {
  it('feeds what the appended new keys and values make, row by row, as present would hold it', () => {
    const cache = new HostStepCache(SPEC, 3, 9);
    expect(cache.fetches).toEqual([newKeyName(0, 'key'), newKeyName(0, 'value'), newKeyName(1, 'key'), newKeyName(1, 'value')]);
    expectPast(cache, [0, 1, 2], []);
    cache.update(newKeys([0, 1, 2], [0, 1, 2, 3, 4]));
    expectPast(cache, [0, 1, 2], [0, 1, 2, 3, 4]);
    cache.update(newKeys([0, 1, 2], [5]));
    cache.update(newKeys([0, 1, 2], [6]));
    expectPast(cache, [0, 1, 2], [0, 1, 2, 3, 4, 5, 6]);
  });

  it('keeps the rows still running, in order, and appends to them alone', () => {
    const cache = new HostStepCache(SPEC, 4, 8);
    cache.update(newKeys([0, 1, 2, 3], [0, 1, 2]));
    expect(cache.keep([1, 3])).toBe(true);
    expectPast(cache, [1, 3], [0, 1, 2]);
    cache.update(newKeys([1, 3], [3]));
    expect(cache.keep([1])).toBe(true);
    cache.update(newKeys([3], [4]));
    expectPast(cache, [3], [0, 1, 2, 3, 4]);
  });

  it('starts from keys and values the caller lays out, then appends to them', () => {
    const cache = new HostStepCache(SPEC, 2, 6);
    // Block (n, row, head) of the first three positions, as `block` numbers them.
    cache.preset(3, (n, r, h, dest) => dest.set(block(n >> 1, n & 1, [r], [0, 1, 2]).subarray(h * 3 * D, (h + 1) * 3 * D)));
    expectPast(cache, [0, 1], [0, 1, 2]);
    cache.update(newKeys([0, 1], [3]));
    expectPast(cache, [0, 1], [0, 1, 2, 3]);
  });
});
