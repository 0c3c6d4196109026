import { describe, expect, it } from 'vitest';
import { downloadModel, openCachedModel, openWeights } from '../../../src/lib/model/download';
import { filesSource, hubSource, urlSource } from '../../../src/lib/model/sources';
import { DownloadInterruptedError } from '../../../src/lib/storage/errors';
import type { ProgressEvent } from '../../../src/lib/storage/shard-cache';
import { equalBytes, fetchBytes, freshCache, serverRequests, STORIES } from '../helpers';

const stories = () => urlSource(`${location.origin}${STORIES}`);

describe('shard cache: stories260k over HTTP into IndexedDB', () => {
  it('stores every file in chunks and reads every tensor back byte-exact', async () => {
    const cache = freshCache();
    const events: ProgressEvent[] = [];
    const model = await downloadModel(cache, stories(), { onProgress: (e) => events.push(e) });
    expect(model.manifest.status).toBe('complete');
    expect(model.spec.numLayers).toBe(5);

    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const entry = model.manifest.files['model.safetensors'];
    expect(entry.size).toBe(original.length);
    // 64 KiB records in this test: the 1 MB file must be split, never one huge record.
    expect(entry.chunkCount).toBe(Math.ceil(original.length / (64 * 1024)));
    expect(await cache.countChunks(model.key, 'model.safetensors')).toBe(entry.chunkCount);

    expect(equalBytes(await cache.readFile(model.key, 'model.safetensors'), original)).toBe(true);
    const weights = await openWeights(cache, model);
    const names = weights.names();
    expect(names.length).toBeGreaterThan(40);
    for (const name of names) {
      const { begin, end } = weights.info(name);
      const values = await weights.float32(name);
      const fromCache = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      expect(equalBytes(fromCache, original.subarray(begin, end)), name).toBe(true);
    }

    const finals = events.filter((e) => e.phase === 'stored').map((e) => e.file);
    expect(finals).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'model.safetensors']));
    const progress = events.filter((e) => e.file === 'model.safetensors' && e.phase === 'downloading');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)!.loaded).toBe(original.length);
    expect(progress.every((e) => e.total === original.length)).toBe(true);
  });

  it('downloads nothing again for files already cached, only asks the server whether they changed', async () => {
    const cache = freshCache();
    await downloadModel(cache, stories());
    await serverRequests(true);
    const events: ProgressEvent[] = [];
    const again = await downloadModel(cache, stories(), { onProgress: (e) => events.push(e) });
    expect(again.manifest.status).toBe('complete');
    // HEAD requests only (source-identity.test.ts asserts the check itself).
    expect((await serverRequests()).filter((r) => r.method !== 'HEAD')).toEqual([]);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.phase === 'cached')).toBe(true);
  });

  it('resumes an interrupted download with a Range request and ends byte-identical', async () => {
    const cache = freshCache({ retries: 0 });
    const cut = urlSource(`${location.origin}/faults/cut-300000${STORIES}`);
    await serverRequests(true);
    await expect(downloadModel(cache, cut)).rejects.toThrow(DownloadInterruptedError);
    const partial = await cache.manifest(`url:${location.origin}/faults/cut-300000${STORIES}`);
    expect(partial?.status).toBe('partial');
    const entry = partial!.files['model.safetensors'];
    expect(entry.complete).toBe(false);
    // Whole 64 KiB records committed before the cut at 300 000 bytes.
    expect(entry.storedBytes).toBe(4 * 64 * 1024);

    const model = await downloadModel(cache, cut);
    const log = await serverRequests();
    const resumed = log.filter((r) => r.url.endsWith('model.safetensors'));
    expect(resumed.map((r) => r.range)).toEqual([null, `bytes=${4 * 64 * 1024}-`]);
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    expect(equalBytes(await cache.readFile(model.key, 'model.safetensors'), original)).toBe(true);
  });

  it('resumes by itself within one call when the connection drops', async () => {
    const cache = freshCache();
    await serverRequests(true);
    const model = await downloadModel(cache, urlSource(`${location.origin}/faults/cut-200000${STORIES}`));
    const ranges = (await serverRequests()).filter((r) => r.url.endsWith('model.safetensors')).map((r) => r.range);
    expect(ranges).toEqual([null, `bytes=${3 * 64 * 1024}-`]);
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    expect(equalBytes(await cache.readFile(model.key, 'model.safetensors'), original)).toBe(true);
  });

  it('downloads through the hub URL shape {host}/{repo}/resolve/{revision}/{file}', async () => {
    const cache = freshCache();
    await serverRequests(true);
    const model = await downloadModel(cache, hubSource('local/stories260k', 'main', `${location.origin}/hub`));
    expect(model.key).toBe('hf:local/stories260k@main');
    const urls = (await serverRequests()).map((r) => r.url);
    expect(urls).toContain('/hub/local/stories260k/resolve/main/model.safetensors');
  });

  it('lists cached models with sizes and frees every record on delete', async () => {
    const cache = freshCache();
    const model = await downloadModel(cache, stories());
    const listed = await cache.listModels();
    expect(listed.map((m) => m.key)).toEqual([model.key]);
    const records = await cache.countChunks(model.key);
    expect(records).toBeGreaterThan(16);
    await cache.deleteModel(model.key);
    expect(await cache.countChunks(model.key)).toBe(0);
    expect(await cache.manifest(model.key)).toBeUndefined();
    expect(await cache.listModels()).toEqual([]);
    await expect(openCachedModel(cache, model.key)).rejects.toThrow(/not in the cache/);
  });
});

describe('shard cache: local files (a picked folder or dropped files)', () => {
  it('stores File objects through the same chunking and validation', async () => {
    const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    const files = await Promise.all(
      names.map(async (n) => new File([(await fetchBytes(`${STORIES}/${n}`)) as Uint8Array<ArrayBuffer>], n)),
    );
    const cache = freshCache();
    await serverRequests(true);
    const model = await downloadModel(cache, filesSource(files, 'stories-from-disk'));
    expect(model.key).toMatch(/^local:stories-from-disk#[0-9a-f]{16}$/);
    expect(model.manifest.status).toBe('complete');
    expect(await serverRequests()).toEqual([]);
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    expect(equalBytes(await cache.readFile(model.key, 'model.safetensors'), original)).toBe(true);
  });

  it('names the missing file when the chosen files are not a model folder', async () => {
    const cache = freshCache();
    const files = [new File(['{}'], 'notes.txt')];
    await expect(downloadModel(cache, filesSource(files, 'not-a-model'))).rejects.toThrow(
      /config\.json is missing from the chosen files \(notes\.txt\)/,
    );
  });
});

describe('resuming from a manifest', () => {
  it('rebuilds hub and URL sources from the stored descriptor', async () => {
    const { sourceDescriptor, sourceFromDescriptor, sourceKey } = await import('../../../src/lib/model/sources');
    for (const src of [hubSource('org/name', 'v2', `${location.origin}/hub`), urlSource(`${location.origin}${STORIES}`)]) {
      const back = sourceFromDescriptor(sourceDescriptor(src));
      expect(back && sourceKey(back)).toBe(sourceKey(src));
      expect(back).toEqual(src);
    }
    expect(sourceFromDescriptor({ kind: 'files', location: 'x' })).toBeNull();
  });
});
