import { describe, expect, it } from 'vitest';
import { ModelLibrary } from '../../../src/lib/app/model-library';
import { ensureDenseGraph, GRAPH_VERSION, storedGraph } from '../../../src/lib/infer/graph-store';
import { downloadModel } from '../../../src/lib/model/download';
import { filesSource, hubSource, urlSource } from '../../../src/lib/model/sources';
import { executeRun, newRun, resultsDoc } from '../../../src/lib/run/orchestrator';
import type { RunPlan } from '../../../src/lib/run/types';
import { RunStore } from '../../../src/lib/run/run-store';
import { equalBytes, fetchBytes, freshCache, putFixture, serverRequests, STORIES } from '../helpers';

const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

/** stories260k's files, with the last float of the weights (a real tensor element) changed when `variant` is set. */
async function storiesFiles(variant?: number): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of FILES) out.set(f, await fetchBytes(`${STORIES}/${f}`));
  if (variant !== undefined) {
    const weights = out.get('model.safetensors')!.slice();
    new DataView(weights.buffer).setFloat32(weights.length - 4, variant, true);
    out.set('model.safetensors', weights);
  }
  return out;
}

async function serveFolder(name: string, files: Map<string, Uint8Array | string>): Promise<string> {
  for (const [f, bytes] of files) await putFixture(name, f, bytes);
  return `${location.origin}/fixtures/${name}`;
}

const unique = (what: string) => `${what}-${crypto.randomUUID().slice(0, 8)}`;

describe('cache identity: picked folders', () => {
  it('a second folder of the same name with other weights gets its own entry and its own weights', async () => {
    const cache = freshCache();
    // Same names, same sizes, same mtimes: only the bytes differ.
    const asFiles = (m: Map<string, Uint8Array>) =>
      [...m].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n, { lastModified: 1_700_000_000_000 }));
    const first = await storiesFiles();
    const second = await storiesFiles(0.125);
    const a = await downloadModel(cache, filesSource(asFiles(first), 'checkpoint-500'));
    const b = await downloadModel(cache, filesSource(asFiles(second), 'checkpoint-500'));
    expect(a.key).toMatch(/^local:checkpoint-500#[0-9a-f]{16}$/);
    expect(b.key).not.toBe(a.key);
    expect(b.label).toBe('checkpoint-500');
    expect(equalBytes(await cache.readFile(b.key, 'model.safetensors'), second.get('model.safetensors')!)).toBe(true);
    expect(equalBytes(await cache.readFile(a.key, 'model.safetensors'), first.get('model.safetensors')!)).toBe(true);
    // The same folder picked again is the same entry.
    expect((await downloadModel(cache, filesSource(asFiles(first), 'checkpoint-500'))).key).toBe(a.key);
  });
});

describe('cache identity: a source that changed since it was downloaded', () => {
  it('a base URL whose weights changed on the server is refused with a message naming the model and file', async () => {
    const cache = freshCache();
    const name = unique('moving');
    const url = await serveFolder(name, await storiesFiles());
    const model = await downloadModel(cache, urlSource(url, 'moving-model'));
    // Opened again unchanged: only HEAD requests, no file downloaded again.
    await serverRequests(true);
    await downloadModel(cache, urlSource(url, 'moving-model'));
    const seen = (await serverRequests()).filter((r) => r.url.includes(name));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.method === 'HEAD')).toBe(true);

    const changed = await storiesFiles(0.5);
    await putFixture(name, 'model.safetensors', changed.get('model.safetensors')!);
    const again = downloadModel(cache, urlSource(url, 'moving-model'));
    await expect(again).rejects.toMatchObject({ name: 'SourceChangedError' });
    await expect(downloadModel(cache, urlSource(url, 'moving-model'))).rejects.toThrow(
      /moving-model changed at its source since it was downloaded \(model\.safetensors has ETag .*delete moving-model from the cache \(the Models list, or ctlab delete --model moving-model\)/,
    );
    // After a delete the download takes the new weights.
    await new ModelLibrary(cache, null).remove(model.key);
    const fresh = await downloadModel(cache, urlSource(url, 'moving-model'));
    expect(equalBytes(await cache.readFile(fresh.key, 'model.safetensors'), changed.get('model.safetensors')!)).toBe(true);
  });

  it('a hub model is downloaded at one commit and refused once its branch moved', async () => {
    const cache = freshCache();
    const name = unique('hubby');
    await serveFolder(name, await storiesFiles());
    const src = hubSource(`test/${name}`, 'main', `${location.origin}/fixhub`);
    await serverRequests(true);
    const model = await downloadModel(cache, src);
    const commit = model.manifest.source.commit;
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    const gets = (await serverRequests()).filter((r) => r.method === 'GET').map((r) => r.url);
    expect(gets).toContain(`/fixhub/test/${name}/resolve/${commit}/model.safetensors`);
    expect(gets.filter((u) => u.includes('/resolve/main/'))).toEqual([]);
    expect((await downloadModel(cache, src)).key).toBe(model.key);

    await putFixture(name, 'config.json', (await storiesFiles()).get('config.json')!);
    await expect(downloadModel(cache, src)).rejects.toThrow(
      new RegExp(`main now points at commit [0-9a-f]{12}, the cached files are from ${commit!.slice(0, 12)}`),
    );
  });
});

describe('deleting a model', () => {
  it('deletes the variants compressed from it, and stored runs that used them say so', async () => {
    const cache = freshCache();
    const runs = new RunStore(`test-${crypto.randomUUID()}`);
    const base = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    const variant = `variant:${base.key}:rtn4`;
    const ofVariant = `variant:${variant}:rtn8`;
    for (const [key, from] of [
      [variant, base.key],
      [ofVariant, variant],
    ]) {
      await cache.openModel(key, `${key} label`, { kind: 'variant', location: from });
      await cache.storeBytes(key, 'model.safetensors', new Uint8Array(200_000));
      await cache.setStatus(key, 'complete');
    }
    const other = await downloadModel(
      cache,
      filesSource(
        [...(await storiesFiles())].map(([n, b]) => new File([b as Uint8Array<ArrayBuffer>], n)),
        'kept',
      ),
    );
    const plan = {
      variants: [
        { id: 'dense', label: 'dense' },
        { id: 'rtn4', label: 'RTN 4-bit' },
      ],
      model: urlSource(`${location.origin}${STORIES}`),
      perspectives: ['machine_ethics'],
      preset: 'smoke',
      seed: 1,
      device: 'wasm',
      mode: 'generate',
      data: { kind: 'offline', base: `${location.origin}/offline-data/` },
    } as unknown as RunPlan;
    const run = newRun(plan);
    run.variants = { dense: { id: 'dense', label: 'dense', key: base.key }, rtn4: { id: 'rtn4', label: 'RTN 4-bit', key: variant } };
    await runs.saveRun(run);
    const unrelated = newRun(plan);
    unrelated.variants = { dense: { id: 'dense', label: 'dense', key: other.key } };
    await runs.saveRun(unrelated);

    const removed = await new ModelLibrary(cache, runs).remove(base.key);
    expect(removed.deleted.sort()).toEqual([base.key, ofVariant, variant].sort());
    for (const key of [base.key, variant, ofVariant]) {
      expect(await cache.manifest(key)).toBeUndefined();
      expect(await cache.countChunks(key)).toBe(0);
    }
    expect(await cache.manifest(other.key)).toBeDefined();
    const after = (await runs.getRun(run.id))!;
    expect(after.variants.rtn4.deleted).toMatch(/^variant deleted: .* with its base model stories260k/);
    expect(after.variants.dense.deleted).toMatch(/^model deleted: stories260k/);
    expect(resultsDoc(after, []).variants?.map((v) => v.deleted?.split(':')[0])).toEqual(['model deleted', 'variant deleted']);
    expect((await runs.getRun(unrelated.id))!.variants.dense.deleted).toBeUndefined();
    expect(removed.runs).toEqual([run.id]);
    // Resuming it stops with the note instead of reaching for a model that is gone.
    await expect(executeRun(run.id, { cache, store: runs })).rejects.toThrow(
      /^dense: model deleted: stories260k was removed from the cache; .* Start a new run to evaluate it again\.$/,
    );
  });
});

describe('a folder that ships its own ONNX graph', () => {
  const shipped = async (info: unknown) => {
    const files = new Map<string, Uint8Array | string>(await storiesFiles());
    files.set('onnx/ctlab-graph.json', JSON.stringify(info));
    files.set('onnx/model.onnx', new Uint8Array(4096).fill(7));
    files.set('onnx/model.onnx_data', new Uint8Array(4096).fill(9));
    return files;
  };

  it('is not taken: the graph is built from the validated safetensors', async () => {
    const cache = freshCache();
    const url = await serveFolder(
      unique('shipped'),
      await shipped({ version: GRAPH_VERSION, chunks: 1, linear: 'matmul', bytes: 8192, builtAt: 0 }),
    );
    const model = await downloadModel(cache, urlSource(url));
    expect(Object.keys(model.manifest.files).filter((f) => f.startsWith('onnx/'))).toEqual([]);
    expect(await storedGraph(cache, model.key)).toBeNull();
    const info = await ensureDenseGraph(cache, model);
    expect(info.version).toBe(GRAPH_VERSION);
    const graph = await cache.readFile(model.key, 'onnx/model.onnx');
    expect(graph.length).not.toBe(4096);

    // A picked folder with the same files: the same.
    const picked = [...(await shipped({ version: GRAPH_VERSION, chunks: 1, linear: 'matmul', bytes: 8192, builtAt: 0 }))].map(([n, b]) => {
      const file = new File([b as BlobPart], n.split('/').pop()!);
      // What a folder picker sets: the path below the picked folder.
      Object.defineProperty(file, 'webkitRelativePath', { value: `picked-with-graph/${n}` });
      return file;
    });
    const local = await downloadModel(cache, filesSource(picked, 'picked-with-graph'));
    expect(Object.keys(local.manifest.files).filter((f) => f.startsWith('onnx/'))).toEqual([]);
  });

  it('a chunks value of 1e9 neither hangs the download nor is believed from the cache', async () => {
    const cache = freshCache();
    const url = await serveFolder(
      unique('huge-chunks'),
      await shipped({ version: 1, chunks: 1e9, linear: 'matmul', bytes: 1, builtAt: 0 }),
    );
    const model = await downloadModel(cache, urlSource(url));
    expect(model.manifest.status).toBe('complete');
    expect(Object.keys(model.manifest.files).filter((f) => f.startsWith('onnx/'))).toEqual([]);
    // A description that reached the cache some other way (an older version stored shipped ones) is checked on read.
    await cache.storeBytes(
      model.key,
      'onnx/ctlab-graph.json',
      new TextEncoder().encode(JSON.stringify({ version: GRAPH_VERSION, chunks: 1e9, linear: 'matmul', bytes: 1, builtAt: 0 })),
    );
    await expect(storedGraph(cache, model.key)).rejects.toThrow(
      /onnx\/ctlab-graph\.json of .*huge-chunks.*: chunks must be an integer from 0 to 4096 .*got 1000000000/,
    );
  });
});
