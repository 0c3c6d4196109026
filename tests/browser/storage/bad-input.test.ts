import { describe, expect, it } from 'vitest';
import { downloadModel, ModelFileMissingError } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { HttpError, QuotaError } from '../../../src/lib/storage/errors';
import type { ShardCache } from '../../../src/lib/storage/shard-cache';
import { fetchBytes, freshCache, putFixture, serverRequests, STORIES } from '../helpers';

const enc = new TextEncoder();

/** A copy of stories260k under /fixtures/NAME with some files replaced or left out. */
async function fixtureModel(name: string, replace: Record<string, Uint8Array | string | null>): Promise<string> {
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors']) {
    if (file in replace) {
      const body = replace[file];
      if (body !== null) await putFixture(name, file, body);
    } else {
      await putFixture(name, file, await fetchBytes(`${STORIES}/${file}`));
    }
  }
  return `${location.origin}/fixtures/${name}`;
}

function splitSafetensors(file: Uint8Array): {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  data: Uint8Array;
} {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))), data: file.subarray(8 + n) };
}

function joinSafetensors(headerJson: string, data: Uint8Array): Uint8Array {
  const header = enc.encode(headerJson);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

async function expectNothingComplete(cache: ShardCache, key: string, file = 'model.safetensors'): Promise<void> {
  const m = await cache.manifest(key);
  expect(m?.status).not.toBe('complete');
  expect(m?.files[file]?.complete ?? false).toBe(false);
}

async function attempt(name: string, replace: Record<string, Uint8Array | string | null>, cache = freshCache()) {
  const base = await fixtureModel(name, replace);
  const src = urlSource(base);
  const error = await downloadModel(cache, src).then(
    () => null,
    (e: Error) => e,
  );
  return { error, cache, key: `url:${base}` };
}

describe('bad model input is refused with a clear message and nothing marked complete', () => {
  it('truncated safetensors', async () => {
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const { error, cache, key } = await attempt('truncated', { 'model.safetensors': original.subarray(0, original.length >> 1) });
    expect(error?.message).toMatch(/model\.safetensors/);
    expect(error?.message).toMatch(/truncated|past the end|overrun|beyond/i);
    await expectNothingComplete(cache, key);
    expect(await cache.countChunks(key, 'model.safetensors')).toBe(0);
  });

  it('header length past the end of the file', async () => {
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const bad = original.slice();
    new DataView(bad.buffer).setBigUint64(0, BigInt(bad.length + 100), true);
    const { error, cache, key } = await attempt('header-past-end', { 'model.safetensors': bad });
    expect(error?.message).toMatch(/header/i);
    expect(error?.message).toMatch(/model\.safetensors/);
    await expectNothingComplete(cache, key);
  });

  it('malformed header JSON', async () => {
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const { data } = splitSafetensors(original);
    const { error, cache, key } = await attempt('bad-json', {
      'model.safetensors': joinSafetensors('{"model.norm.weight": {"dtype": "F32", ', data),
    });
    expect(error?.message).toMatch(/JSON/i);
    await expectNothingComplete(cache, key);
  });

  it('a tensor whose offsets overrun the data', async () => {
    const original = await fetchBytes(`${STORIES}/model.safetensors`);
    const { header, data } = splitSafetensors(original);
    const t = header['model.norm.weight'];
    const width = t.data_offsets[1] - t.data_offsets[0];
    t.data_offsets = [data.length - width + 64, data.length + 64];
    const { error, cache, key } = await attempt('overrun', { 'model.safetensors': joinSafetensors(JSON.stringify(header), data) });
    expect(error?.message).toMatch(/model\.norm\.weight/);
    await expectNothingComplete(cache, key);
  });

  it('unsupported model_type, refused before any weights are requested', async () => {
    const config = { ...(await fetchJsonText(`${STORIES}/config.json`)), model_type: 'falcon', architectures: ['FalconForCausalLM'] };
    await serverRequests(true);
    const { error, cache, key } = await attempt('falcon', { 'config.json': JSON.stringify(config) });
    expect(error?.message).toMatch(/falcon/);
    expect(error?.message).toMatch(/llama/);
    expect((await serverRequests()).some((r) => r.url.endsWith('model.safetensors'))).toBe(false);
    await expectNothingComplete(cache, key);
  });

  it('a non-Llama config (GPT-2)', async () => {
    const gpt2 = { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 768, n_head: 12, n_layer: 12, vocab_size: 50257 };
    const { error, cache, key } = await attempt('gpt2', { 'config.json': JSON.stringify(gpt2) });
    expect(error?.message).toMatch(/gpt2/);
    await expectNothingComplete(cache, key);
  });

  it('missing tokenizer.json', async () => {
    const { error, cache, key } = await attempt('no-tokenizer', { 'tokenizer.json': null });
    expect(error).toBeInstanceOf(ModelFileMissingError);
    expect(error?.message).toMatch(/tokenizer\.json/);
    expect(error?.message).toMatch(/404/);
    await expectNothingComplete(cache, key);
  });

  it.each([404, 500])('HTTP %i', async (status) => {
    const cache = freshCache({ retries: 1 });
    const base = `${location.origin}/faults/status-${status}${STORIES}`;
    const error = await downloadModel(cache, urlSource(base)).then(
      () => null,
      (e: Error) => e,
    );
    // A 404 on a required file says which file the folder lacks; other statuses stay HTTP errors.
    expect(error).toBeInstanceOf(status === 404 ? ModelFileMissingError : HttpError);
    expect(error?.message).toContain(`HTTP ${status}`);
    expect(error?.message).toContain('config.json');
    const m = await cache.manifest(`url:${base}`);
    expect(m?.status).toBe('partial');
    expect(m?.error).toContain(`HTTP ${status}`);
    expect(Object.values(m?.files ?? {}).some((f) => f.complete)).toBe(false);
  });

  it('quota exceeded (a 400 kB quota) stops before writing the weights', async () => {
    const cache = freshCache({ estimate: async () => ({ quota: 400_000, usage: 20_000 }) });
    const base = `${location.origin}${STORIES}`;
    const error = await downloadModel(cache, urlSource(base)).then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(QuotaError);
    expect(error?.message).toMatch(/Not enough browser storage for model\.safetensors/);
    const key = `url:${base}`;
    await expectNothingComplete(cache, key);
    expect(await cache.countChunks(key, 'model.safetensors')).toBe(0);
    // Small files that fit were kept, so a retry with more room only fetches the weights.
    expect((await cache.manifest(key))?.files['config.json']?.complete).toBe(true);
  });
});

async function fetchJsonText(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(path)));
}
