import { describe, expect, it } from 'vitest';
import { memoryCache } from '../../../src/node/memory-cache';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('the shard cache over in-memory stores (Node)', () => {
  it('stores files in records, reads any range back, and removes one file or a whole model by key range', async () => {
    // Small records, so a file spans several and reads cross record boundaries.
    const cache = memoryCache({ chunkSize: 10 });
    await cache.openModel('a', 'A', { kind: 'url', location: 'x' });
    await cache.openModel('ab', 'AB', { kind: 'url', location: 'y' });
    const one = bytes(35, 1);
    await cache.storeBytes('a', 'one.bin', one);
    await cache.storeBytes('a', 'two.bin', bytes(7, 2));
    await cache.storeBytes('ab', 'one.bin', bytes(12, 3));
    expect(await cache.countChunks('a')).toBe(5);
    expect(await cache.countChunks('a', 'one.bin')).toBe(4);
    expect(Array.from(await cache.readFile('a', 'one.bin'))).toEqual(Array.from(one));
    const src = await cache.openFile('a', 'one.bin');
    expect(Array.from(await src.read(8, 15))).toEqual(Array.from(one.subarray(8, 23)));

    // The stored manifest is a copy: a change counts only once it is saved.
    const m = (await cache.manifest('a'))!;
    m.label = 'changed';
    expect((await cache.manifest('a'))!.label).toBe('A');

    await cache.removeFile('a', 'one.bin');
    expect(await cache.countChunks('a')).toBe(1);
    expect((await cache.manifest('a'))!.files['one.bin']).toBeUndefined();
    await cache.deleteModel('a');
    expect(await cache.manifest('a')).toBeUndefined();
    expect(await cache.countChunks('a')).toBe(0);
    // A model whose key starts with another's keeps its records.
    expect(await cache.countChunks('ab')).toBe(2);
    expect(Array.from(await cache.readFile('ab', 'one.bin'))).toEqual(Array.from(bytes(12, 3)));
  });
});
