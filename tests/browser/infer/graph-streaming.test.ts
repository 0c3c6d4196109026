import { describe, expect, it } from 'vitest';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { ensureDenseGraph, GRAPH_FILE, GRAPH_INFO_FILE, storeGraph } from '../../../src/lib/infer/graph-store';
import { MemoryBudgetError } from '../../../src/lib/infer/memory-budget';
import { downloadModel, openWeights } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { buildCausalLm, buildCausalLmStreaming } from '../../../src/lib/onnx';
import { QuotaError } from '../../../src/lib/storage/errors';
import type { StorageEstimateLike } from '../../../src/lib/storage/quota';
import { equalBytes, freshCache, STORIES } from '../helpers';

/** stories260k in a cache of its own whose storage estimate the test controls. */
async function storiesCache(estimate: StorageEstimateLike = {}) {
  const quota = { ...estimate };
  const cache = freshCache({ estimate: async () => quota });
  const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
  return { cache, model, quota };
}

/** The in-memory graph of the same checkpoint, every tensor read up front (the old path). */
async function inMemoryGraph(
  cache: Awaited<ReturnType<typeof storiesCache>>['cache'],
  model: Awaited<ReturnType<typeof storiesCache>>['model'],
  maxChunkBytes?: number,
) {
  const weights = await openWeights(cache, model);
  const values = new Map<string, Float32Array>();
  for (const name of weights.names()) values.set(name, await weights.float32(name));
  return buildCausalLm(model.spec, values, maxChunkBytes ? { externalData: { maxChunkBytes } } : {});
}

const graphFiles = (files: Record<string, unknown>) => Object.keys(files).filter((f) => f.startsWith('onnx/'));

describe('the streamed graph build', () => {
  it('writes files byte-identical to the in-memory buildCausalLm, record by record', async () => {
    const { cache, model } = await storiesCache();
    const info = await ensureDenseGraph(cache, model);
    const built = await inMemoryGraph(cache, model);
    expect(info.chunks).toBe(built.externalData.length);
    expect(equalBytes(await cache.readFile(model.key, GRAPH_FILE), built.model)).toBe(true);
    for (const ext of built.externalData) {
      const stored = await cache.readFile(model.key, `onnx/${ext.path}`);
      expect(stored.byteLength).toBe(ext.data.byteLength);
      expect(equalBytes(stored, ext.data)).toBe(true);
      // freshCache's 64 kB records: the file really was committed in many pieces.
      expect(await cache.countChunks(model.key, `onnx/${ext.path}`)).toBe(Math.ceil(ext.data.byteLength / cache.chunkSize));
    }
    expect(info.bytes).toBe(built.model.byteLength + built.externalData.reduce((s, e) => s + e.data.byteLength, 0));
  });

  it('splits into several chunk files exactly as the in-memory build does', async () => {
    const { cache, model } = await storiesCache();
    const weights = await openWeights(cache, model);
    const laid = buildCausalLmStreaming(model.spec, (name) => weights.float32(name), { externalData: { maxChunkBytes: 300_000 } });
    const ticks: [number, number][] = [];
    const info = await storeGraph(cache, model.key, model.label, laid, 'matmul', {
      onProgress: (done, total) => ticks.push([done, total]),
    });
    const built = await inMemoryGraph(cache, model, 300_000);
    expect(info.chunks).toBeGreaterThan(1);
    // Progress over all the graph's files together: one tick per committed 64 kB record, rising to the graph's size.
    expect(ticks.length).toBeGreaterThanOrEqual(Math.ceil(info.bytes / cache.chunkSize));
    expect(ticks.every(([, total]) => total === info.bytes)).toBe(true);
    expect(ticks.every(([done], i) => i === 0 || done > ticks[i - 1][0])).toBe(true);
    expect(ticks.at(-1)![0]).toBe(info.bytes);
    expect(info.chunks).toBe(built.externalData.length);
    for (const ext of built.externalData) expect(equalBytes(await cache.readFile(model.key, `onnx/${ext.path}`), ext.data)).toBe(true);
  });

  it('is refused before writing when the quota cannot hold the graph, leaving nothing behind', async () => {
    const { cache, model, quota } = await storiesCache();
    // The graph of stories260k is about 1 MB; leave 100 kB free.
    quota.quota = 10_000_000;
    quota.usage = 9_900_000;
    const err = await ensureDenseGraph(cache, model).catch((e: Error) => e);
    expect(err).toBeInstanceOf(QuotaError);
    expect((err as Error).message).toMatch(/Not enough browser storage for the ONNX graph of .*stories260k/);
    expect((err as QuotaError).availableBytes).toBe(100_000);
    const m = await cache.manifest(model.key);
    expect(graphFiles(m!.files)).toEqual([]);
    expect(await cache.countChunks(model.key, 'onnx/model.onnx_data')).toBe(0);
    expect(m!.status).toBe('complete');
    // With room again the same cache builds it.
    quota.usage = 0;
    expect((await ensureDenseGraph(cache, model)).chunks).toBe(1);
  });

  it('a failure midway removes every graph file it wrote, and the model stays complete', async () => {
    const { cache, model } = await storiesCache();
    const weights = await openWeights(cache, model);
    let reads = 0;
    const laid = buildCausalLmStreaming(model.spec, async (name) => {
      if (++reads === 20) throw new Error(`${name} could not be read`);
      return weights.float32(name);
    });
    await expect(storeGraph(cache, model.key, model.label, laid, 'matmul')).rejects.toThrow(/could not be read/);
    const m = await cache.manifest(model.key);
    expect(graphFiles(m!.files)).toEqual([]);
    expect(await cache.countChunks(model.key, 'onnx/model.onnx_data')).toBe(0);
    expect(await cache.countChunks(model.key, GRAPH_FILE)).toBe(0);
    expect(m!.status).toBe('complete');
  });

  it('writeFile: a cancel or a short body leaves no records and no entry', async () => {
    const { cache, model } = await storiesCache();
    const ctl = new AbortController();
    const piece = new Uint8Array(100_000).fill(7);
    const cancelled = cache.writeFile(
      model.key,
      'onnx/scratch.bin',
      1_000_000,
      async (write) => {
        for (let i = 0; i < 10; i++) {
          if (i === 5) ctl.abort();
          await write(piece);
        }
      },
      { signal: ctl.signal },
    );
    await expect(cancelled).rejects.toThrow(/Writing onnx\/scratch\.bin of .* was cancelled; nothing of it was kept/);
    await expect(cache.writeFile(model.key, 'onnx/scratch.bin', 1_000_000, (write) => write(piece))).rejects.toThrow(
      /onnx\/scratch\.bin of .*: 100 kB were written of the announced 1\.0 MB/,
    );
    expect((await cache.manifest(model.key))!.files['onnx/scratch.bin']).toBeUndefined();
    expect(await cache.countChunks(model.key, 'onnx/scratch.bin')).toBe(0);
  });
});

describe('the memory preflight', () => {
  it('refuses a model over the WASM limit before building anything, with the figure and the way out', async () => {
    const { cache, model } = await storiesCache();
    const err = await loadCausalLm(cache, model.key, { device: 'wasm', budget: { wasmBytes: 50_000_000 } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(MemoryBudgetError);
    const msg = (err as Error).message;
    // stories260k: 1 MB of weights; the rest is the prefill of 1024 tokens and the runtime allowance.
    expect(msg).toMatch(/stories260k as fp32 needs ≈ 209 MB on WASM \(weights 1\.0 MB .*runtime 134 MB\)/);
    expect(msg).toMatch(/WASM allows 50\.0 MB/);
    expect(msg).toMatch(/use WebGPU .*or evaluate one of its 4-bit variants/);
    expect((err as MemoryBudgetError).limitBytes).toBe(50_000_000);
    const m = await cache.manifest(model.key);
    expect(graphFiles(m!.files)).toEqual([]);
  });

  it('in auto, a model too big for WASM is not run on WASM: WebGPU too small as well means a refusal naming both', async () => {
    const { cache, model } = await storiesCache();
    const err = await loadCausalLm(cache, model.key, {
      device: 'auto',
      budget: { wasmBytes: 50_000_000, gpuLimits: { maxBufferSize: 1000, maxStorageBufferBindingSize: 1000 } },
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(MemoryBudgetError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/WASM allows 50\.0 MB/);
    expect(msg).toMatch(/model\.embed_tokens\.weight of .*stories260k.* takes .*allows 1\.0 kB per buffer/);
    expect(graphFiles((await cache.manifest(model.key))!.files)).toEqual([]);
  });

  it('in auto, a model too big for WASM but fine for WebGPU runs on WebGPU, even on a software adapter', async () => {
    const { cache, model } = await storiesCache();
    const lm = await loadCausalLm(cache, model.key, { device: 'auto', budget: { wasmBytes: 50_000_000 } });
    expect(lm.device).toBe('webgpu');
    expect((await cache.manifest(model.key))!.files[GRAPH_INFO_FILE]?.complete).toBe(true);
  }, 120_000);
});

describe('fp16 weights', () => {
  it('an fp16 graph is built beside the fp32 one as model_fp16.onnx, loaded by transformers.js, and recorded with its reason', async () => {
    const { cache, model } = await storiesCache();
    const lm = await loadCausalLm(cache, model.key, { device: 'wasm', precision: 'fp16' });
    expect(lm.precision).toBe('fp16');
    expect(lm.precisionReason).toBe('fp16 was asked for');
    const files = graphFiles((await cache.manifest(model.key))!.files);
    expect(files).toContain('onnx/model_fp16.onnx');
    expect(files).toContain('onnx/model_fp16.onnx_data');
    expect(files).not.toContain(GRAPH_FILE);
    const ref = (await (await fetch(`${STORIES}/reference.json`)).json()) as {
      greedy: { prompt: string; prompt_ids: number[]; ids: number[] };
    };
    const out = await generate(lm, { prompt: ref.greedy.prompt, maxNewTokens: 12 });
    // Half-precision weights may flip a late near-tie; the first tokens of the greedy text stay.
    const n = ref.greedy.prompt_ids.length + 8;
    expect(out.ids.slice(0, n)).toEqual(ref.greedy.ids.slice(0, n));
    const fp32 = await loadCausalLm(cache, model.key, { device: 'wasm' });
    expect(fp32.precision).toBe('fp32');
    expect(fp32.precisionReason).toMatch(/WASM runs fp32 graphs/);
    const [half, full] = await Promise.all([
      cache.fileEntry(model.key, 'onnx/model_fp16.onnx_data'),
      cache.fileEntry(model.key, GRAPH_FILE + '_data'),
    ]);
    expect(half.storedBytes).toBeLessThan(0.6 * full.storedBytes);
  });
});
