import { del, set } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { downloadClassifier } from '../../../src/lib/model/classifier';
import { downloadModel } from '../../../src/lib/model/download';
import { hubSource, urlSource } from '../../../src/lib/model/sources';
import { DownloadInterruptedError, IntegrityError } from '../../../src/lib/storage/errors';
import { ShardCache } from '../../../src/lib/storage/shard-cache';
import { chunkKey } from '../../../src/lib/storage/stores';
import { graphBytes, tokenizerJson } from '../../reference/tiny-classifier';
import { equalBytes, fetchBytes, freshCache, putFixture, serverRequests, STORIES } from '../helpers';

const RECORD = 64 * 1024;

/** Bytes no other test produces, so a splice of two versions can never look right by chance. */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A fixture served by the test server, and a model in `cache` to store it under. */
async function fixtureModel(cache: ShardCache, bytes: Uint8Array, mtime: number): Promise<{ model: string; path: string }> {
  const name = `verify-${crypto.randomUUID()}`;
  await putFixture(name, 'data.bin', bytes, mtime);
  const model = `url:test/${name}`;
  await cache.openModel(model, name, { kind: 'url', location: `/fixtures/${name}` });
  return { model, path: `/fixtures/${name}/data.bin` };
}

const fileRequests = async (file: string) => (await serverRequests()).filter((r) => r.url.endsWith(file));

describe('downloads: a shorter 206 than asked', () => {
  it('continues each short answer where it ended and stores the file byte-exact in full-size records', async () => {
    const cache = freshCache();
    await serverRequests(true);
    // The first request is cut at 300 000 bytes; every resume is answered with only 50 000 bytes.
    const model = await downloadModel(cache, urlSource(`${location.origin}/faults/cut-300000,short-50000${STORIES}`));
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const entry = model.manifest.files['model.safetensors'];
    expect(entry.complete).toBe(true);
    expect(entry.size).toBe(original.length);
    expect(entry.chunkCount).toBe(Math.ceil(original.length / RECORD));
    expect(equalBytes(await cache.readFile(model.key, 'model.safetensors'), original)).toBe(true);

    const ranges = (await fileRequests('model.safetensors')).map((r) => r.range);
    expect(ranges[0]).toBeNull();
    // Each resume asks from exactly where the stored bytes end, partial records included.
    expect(ranges.slice(1, 4)).toEqual([`bytes=${4 * RECORD}-`, `bytes=${4 * RECORD + 50000}-`, `bytes=${4 * RECORD + 100000}-`]);
    expect(ranges.length).toBe(1 + Math.ceil((original.length - 4 * RECORD) / 50000));
  });
});

describe('downloads: the file changed between attempts', () => {
  it('notices the new version on resume (weak ETag, If-Range with Last-Modified) and starts over instead of splicing', async () => {
    const cache = freshCache({ retries: 0 });
    const before = randomBytes(5 * RECORD);
    const { model, path } = await fixtureModel(cache, before, 1_700_000_000);
    const url = `${location.origin}/faults/cut-150000${path}`;
    await expect(cache.storeFromUrl(model, 'data.bin', url)).rejects.toThrow(DownloadInterruptedError);
    const partial = (await cache.manifest(model))!.files['data.bin'];
    expect(partial.complete).toBe(false);
    expect(partial.storedBytes).toBe(2 * RECORD);
    expect(partial.etag).toMatch(/^W\//);

    const after = randomBytes(5 * RECORD);
    await putFixture(model.slice('url:test/'.length), 'data.bin', after, 1_700_000_100);
    await serverRequests(true);
    // The same file, now without the cut, so the whole new version can arrive.
    const entry = await cache.storeFromUrl(model, 'data.bin', `${location.origin}${path}`);
    expect(entry?.complete).toBe(true);
    expect(equalBytes(await cache.readFile(model, 'data.bin'), after)).toBe(true);

    const log = await fileRequests('data.bin');
    // The resume carried the date the first byte came with (sirv's ETag is weak, so not that),
    // and its answer, of another version, was dropped for a request of the whole file.
    expect(log[0]).toMatchObject({ range: `bytes=${2 * RECORD}-`, ifRange: new Date(1_700_000_000_000).toUTCString() });
    expect(log[1].range).toBeNull();
    expect(log.length).toBe(2);
  });

  it('resumes an unchanged file with If-Range set to its Last-Modified date when the ETag is weak', async () => {
    const cache = freshCache({ retries: 0 });
    const bytes = randomBytes(4 * RECORD + 123);
    const { model, path } = await fixtureModel(cache, bytes, 1_700_000_000);
    const url = `${location.origin}/faults/cut-100000${path}`;
    await expect(cache.storeFromUrl(model, 'data.bin', url)).rejects.toThrow(DownloadInterruptedError);
    await serverRequests(true);
    const entry = await cache.storeFromUrl(model, 'data.bin', url);
    expect(entry).toMatchObject({ complete: true, verified: 'size', size: bytes.length });
    expect(await fileRequests('data.bin')).toEqual([
      expect.objectContaining({ range: `bytes=${RECORD}-`, ifRange: new Date(1_700_000_000_000).toUTCString() }),
    ]);
    expect(equalBytes(await cache.readFile(model, 'data.bin'), bytes)).toBe(true);
  });
});

describe('downloads: resuming onto damaged records', () => {
  it('starts over when the stored part of a file does not add up, instead of appending to it', async () => {
    const cache = freshCache({ retries: 0 });
    const bytes = randomBytes(5 * RECORD);
    const { model, path } = await fixtureModel(cache, bytes, 1_700_000_000);
    await expect(cache.storeFromUrl(model, 'data.bin', `${location.origin}/faults/cut-150000${path}`)).rejects.toThrow(
      DownloadInterruptedError,
    );
    expect((await cache.manifest(model))!.files['data.bin'].storedBytes).toBe(2 * RECORD);
    await set(chunkKey(model, 'data.bin', 1), bytes.slice(RECORD, RECORD + 1000), cache.stores.chunks);
    await serverRequests(true);
    const entry = await cache.storeFromUrl(model, 'data.bin', `${location.origin}${path}`);
    expect(entry?.complete).toBe(true);
    const blob = await cache.fileBlob(model, 'data.bin');
    expect(equalBytes(new Uint8Array(await blob.arrayBuffer()), bytes)).toBe(true);
    expect((await fileRequests('data.bin')).map((r) => r.range)).toEqual([null]);
  });
});

describe('downloads: the SHA-256 the host announces (X-Linked-Etag)', () => {
  it('refuses a file whose bytes do not match, keeping nothing of it', async () => {
    const cache = freshCache();
    const bytes = randomBytes(3 * RECORD + 77);
    const { model, path } = await fixtureModel(cache, bytes, 1_700_000_000);
    const wrong = 'ab'.repeat(32);
    const url = `${location.origin}/faults/linked-etag-${wrong}${path}`;
    const err = await cache.storeFromUrl(model, 'data.bin', url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/data\.bin of verify-.* does not match the SHA-256 its host announced \(expected abab/);
    expect((err as Error).message).toContain(await sha256Hex(bytes));
    expect((await cache.manifest(model))!.files['data.bin']).toBeUndefined();
    expect(await cache.countChunks(model, 'data.bin')).toBe(0);
    await expect(cache.readFile(model, 'data.bin')).rejects.toThrow(/not in the cache/);
  });

  it('accepts a file whose bytes match, also when it arrived in cut and short pieces', async () => {
    const cache = freshCache();
    const bytes = randomBytes(4 * RECORD + 999);
    const { model, path } = await fixtureModel(cache, bytes, 1_700_000_000);
    const hash = await sha256Hex(bytes);
    const entry = await cache.storeFromUrl(
      model,
      'data.bin',
      `${location.origin}/faults/cut-100000,short-30000,linked-etag-${hash}${path}`,
    );
    expect(entry).toMatchObject({ complete: true, verified: 'sha256', sha256: hash });
    expect(equalBytes(await cache.readFile(model, 'data.bin'), bytes)).toBe(true);
  });

  it('checks a hash given by the caller (the hub LFS metadata) the same way', async () => {
    const cache = freshCache();
    const bytes = randomBytes(RECORD + 1);
    const { model, path } = await fixtureModel(cache, bytes, 1_700_000_000);
    await expect(cache.storeFromUrl(model, 'data.bin', `${location.origin}${path}`, { sha256: '00'.repeat(32) })).rejects.toThrow(
      IntegrityError,
    );
    const entry = await cache.storeFromUrl(model, 'data.bin', `${location.origin}${path}`, { sha256: await sha256Hex(bytes) });
    expect(entry).toMatchObject({ complete: true, verified: 'sha256' });
  });
});

describe('downloads from the hub: the LFS SHA-256 from its file listing', () => {
  it('checks the weights against the hash the hub lists for the revision', async () => {
    const cache = freshCache();
    await serverRequests(true);
    const model = await downloadModel(cache, hubSource('local/stories260k', 'main', `${location.origin}/hub`));
    const weights = model.manifest.files['model.safetensors'];
    expect(weights).toMatchObject({
      complete: true,
      verified: 'sha256',
      sha256: await sha256Hex(await fetchBytes(`${STORIES}/model.safetensors`)),
    });
    // Files the hub keeps in git rather than LFS have no such hash: size and validators only.
    expect(model.manifest.files['config.json'].verified).toBe('size');
    expect((await serverRequests()).map((r) => r.url)).toContain('/hub/api/models/local/stories260k/tree/main?recursive=true');
  });

  it('refuses weights that do not match the listed hash, and the model stays incomplete', async () => {
    const cache = freshCache();
    const src = hubSource('local/stories260k', 'main', `${location.origin}/faults/lfs-wrong/hub`);
    await expect(downloadModel(cache, src)).rejects.toThrow(
      /model\.safetensors of local\/stories260k does not match the SHA-256 its host announced/,
    );
    const m = await cache.manifest('hf:local/stories260k@main');
    expect(m?.status).toBe('partial');
    expect(m?.files['model.safetensors']).toBeUndefined();
    expect(await cache.countChunks('hf:local/stories260k@main', 'model.safetensors')).toBe(0);
  });
});

describe('classifiers from the hub: the graph is checked against its LFS SHA-256', () => {
  /** The tiny test classifier at /fixtures/NAME, which the test server also answers in the hub's URL shape. */
  async function hubClassifier(): Promise<string> {
    const name = `tox-${crypto.randomUUID().slice(0, 8)}`;
    const config = { model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], id2label: { 0: 'toxic', 1: 'ok' } };
    await putFixture(name, 'config.json', JSON.stringify(config));
    await putFixture(name, 'tokenizer.json', tokenizerJson());
    await putFixture(name, 'tokenizer_config.json', JSON.stringify({ pad_token: '[PAD]', unk_token: '[UNK]', model_max_length: 64 }));
    await putFixture(name, 'onnx/model.onnx', graphBytes());
    return name;
  }

  it('stores a graph that matches and refuses one that does not', async () => {
    const name = await hubClassifier();
    const good = await downloadClassifier(freshCache(), hubSource(`fixtures/${name}`, 'main', `${location.origin}/hub`));
    expect(good.manifest.files['onnx/model.onnx']).toMatchObject({
      complete: true,
      verified: 'sha256',
      sha256: await sha256Hex(graphBytes()),
    });

    const cache = freshCache();
    await expect(
      downloadClassifier(cache, hubSource(`fixtures/${name}`, 'main', `${location.origin}/faults/lfs-wrong/hub`)),
    ).rejects.toThrow(new RegExp(`onnx/model\\.onnx of fixtures/${name} does not match the SHA-256 its host announced`));
    const m = (await cache.listModels())[0];
    expect(m.status).toBe('partial');
    expect(m.files['onnx/model.onnx']).toBeUndefined();
  });
});

describe('reading: damaged IndexedDB records', () => {
  /** stories260k downloaded, damaged by `damage`, and a second cache on the same databases (nothing read before is remembered). */
  const damaged = async (damage: (stores: ShardCache['stores'], key: string) => Promise<void>) => {
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    await damage(cache.stores, model.key);
    return { fresh: new ShardCache({ stores: cache.stores, chunkSize: RECORD }), key: model.key };
  };
  const record = (key: string, index: number) => chunkKey(key, 'model.safetensors', index);

  it('names model, file and record when a record is truncated, instead of shifting bytes or never ending', async () => {
    const { fresh, key } = await damaged(async (stores, k) => {
      const bytes = await fetchBytes(`${STORIES}/model.safetensors`);
      await set(record(k, 3), bytes.slice(3 * RECORD, 3 * RECORD + 1000), stores.chunks);
    });
    await expect(fresh.readFile(key, 'model.safetensors')).rejects.toThrow(
      /Record 3 of model\.safetensors of model stories260k holds 1000 bytes where 65536 belong/,
    );
    await expect(fresh.fileBlob(key, 'model.safetensors')).rejects.toThrow(IntegrityError);
    // A read that ends before the damaged record still works.
    expect((await (await fresh.openFile(key, 'model.safetensors')).read(0, 3 * RECORD)).length).toBe(3 * RECORD);
  }, 20_000);

  it('names model, file and record when a record is longer, replaced by something else, or missing', async () => {
    const { fresh, key } = await damaged(async (stores, k) => {
      await set(record(k, 2), new Uint8Array(RECORD + 5), stores.chunks);
      await set(record(k, 5), 'not bytes', stores.chunks);
      await del(record(k, 7), stores.chunks);
    });
    const src = await fresh.openFile(key, 'model.safetensors');
    await expect(src.read(2 * RECORD + 10, 10)).rejects.toThrow(/Record 2 of model\.safetensors of model stories260k holds 65541 bytes/);
    await expect(src.read(5 * RECORD, 10)).rejects.toThrow(
      /Record 5 of model\.safetensors of model stories260k holds something that is not file bytes/,
    );
    await expect(src.read(7 * RECORD, 10)).rejects.toThrow(/Record 7 of model\.safetensors of model stories260k is missing/);
  }, 20_000);
});
