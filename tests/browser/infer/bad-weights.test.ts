import { describe, expect, it } from 'vitest';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { downloadModel } from '../../../src/lib/model/download';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../../../src/lib/model/safetensors';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { urlSource } from '../../../src/lib/model/sources';
import { fetchBytes, fetchJson, freshCache, putFixture, STORIES } from '../helpers';

/** stories260k's tensors, with `edit` applied, written as a new safetensors file. */
async function editedWeights(edit: (tensors: TensorToWrite[]) => TensorToWrite[]): Promise<Uint8Array> {
  const file = await SafetensorsFile.open(bytesSource('model.safetensors', await fetchBytes(`${STORIES}/model.safetensors`)));
  const tensors = await Promise.all(
    file.names().map(async (name) => ({ name, dtype: 'F32' as const, shape: file.info(name).shape, data: (await file.raw(name)).slice() })),
  );
  return writeSafetensors(edit(tensors));
}

async function fixture(name: string, files: Record<string, Uint8Array | string>): Promise<string> {
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    await putFixture(name, f, files[f] ?? (await fetchBytes(`${STORIES}/${f}`)));
  }
  await putFixture(name, 'model.safetensors', files['model.safetensors'] ?? (await fetchBytes(`${STORIES}/model.safetensors`)));
  return `${location.origin}/fixtures/${name}`;
}

describe('bad weights are refused with a clear error', () => {
  it('a config whose shapes disagree with the tensors', async () => {
    const config = await fetchJson<Record<string, unknown>>(`${STORIES}/config.json`);
    const base = await fixture('shape-mismatch', { 'config.json': JSON.stringify({ ...config, intermediate_size: 256 }) });
    const error = await downloadModel(freshCache(), urlSource(base)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/mlp\.(gate|up|down)_proj\.weight/);
    expect((error as Error).message).toMatch(/172/);
    expect((error as Error).message).toMatch(/256/);
  });

  it('a missing tensor', async () => {
    const weights = await editedWeights((t) => t.filter((x) => x.name !== 'model.layers.3.self_attn.k_proj.weight'));
    const base = await fixture('missing-tensor', { 'model.safetensors': weights });
    const error = await downloadModel(freshCache(), urlSource(base)).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/model\.layers\.3\.self_attn\.k_proj\.weight/);
    expect((error as Error).message).toMatch(/missing/i);
  });

  it('NaN weights', async () => {
    const weights = await editedWeights((t) =>
      t.map((x) => {
        if (x.name !== 'model.layers.2.mlp.up_proj.weight') return x;
        const data = x.data.slice();
        new DataView(data.buffer).setFloat32(4 * 7, NaN, true);
        return { ...x, data };
      }),
    );
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(await fixture('nan-weights', { 'model.safetensors': weights })));
    await expect(loadCausalLm(cache, model.key, { device: 'wasm' })).rejects.toThrow(
      /model\.layers\.2\.mlp\.up_proj\.weight .* NaN at element 7/,
    );
    expect((await cache.manifest(model.key))?.files['onnx/model.onnx']).toBeUndefined();
  });
});
