import { beforeAll, describe, expect, it } from 'vitest';
import { NonFiniteError } from '../../../src/lib/compress/engine/finite';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { downloadModel, openWeights, type CachedModel } from '../../../src/lib/model/download';
import { writeSafetensors } from '../../../src/lib/model/safetensors';
import { urlSource } from '../../../src/lib/model/sources';
import type { ShardCache } from '../../../src/lib/storage/shard-cache';
import { compressCachedModel, type CompressProgress } from '../../../src/lib/variants/compress-model';
import { readVariantReport, VARIANT_PREFIX } from '../../../src/lib/variants/store';
import { equalBytes, fetchBytes, freshCache, putFixture, STORIES } from '../helpers';

let cache: ShardCache;
let base: CachedModel;
let original: Uint8Array;
const calibration = { kind: 'builtin' as const };

beforeAll(async () => {
  cache = freshCache();
  base = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
  original = await fetchBytes(`${STORIES}/model.safetensors`);
});

async function expectDenseIntact(c: ShardCache, m: CachedModel, bytes: Uint8Array): Promise<void> {
  const manifest = await c.manifest(m.key);
  expect(manifest?.status).toBe('complete');
  expect(equalBytes(await c.readFile(m.key, 'model.safetensors'), bytes)).toBe(true);
}

async function variantsIn(c: ShardCache) {
  return (await c.listModels()).filter((m) => m.key.startsWith(VARIANT_PREFIX));
}

/** stories260k under /fixtures/NAME with some tensors changed. */
async function corruptedCopy(name: string, change: (name: string, v: Float32Array) => void): Promise<string> {
  const store = await openWeights(cache, base);
  const tensors = [];
  for (const n of store.names()) {
    const v = (await store.float32(n)).slice();
    change(n, v);
    tensors.push({ name: n, dtype: 'F32' as const, shape: store.info(n).shape, data: new Uint8Array(v.buffer) });
  }
  await putFixture(name, 'model.safetensors', writeSafetensors(tensors));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
    await putFixture(name, f, await fetchBytes(`${STORIES}/${f}`));
  return `${location.origin}/fixtures/${name}`;
}

describe('faults while compressing', () => {
  it('cancel mid-layer: the dense model stays intact, the finished layers are kept, and the same compression goes on to the bytes of an uninterrupted run', async () => {
    const request = { settings: { method: 'gptq' as const, bits: 4, groupSize: 64 }, calibration, samples: 8, seqLen: 64 };
    const layers = base.spec.numLayers;
    const controller = new AbortController();
    const seen: CompressProgress[] = [];
    const run = compressCachedModel(cache, base.key, request, {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.layer === 2 && p.linear === 'o_proj') controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    // It stopped inside layer 2, after some of its linears.
    expect(seen.some((p) => p.layer === 2 && p.linear === 'q_proj')).toBe(true);
    expect(seen.some((p) => p.layer === 3)).toBe(false);
    const [partial, ...others] = await variantsIn(cache);
    expect(others).toEqual([]);
    expect(partial.status).toBe('partial');
    expect(partial.error).toBe(`stopped after 2 of ${layers} layers; compressing it again with the same settings goes on from layer 3`);
    expect(Object.keys(partial.files).filter((f) => f.startsWith('resume/'))).toEqual(['resume/layer-0000.bin', 'resume/layer-0001.bin']);
    await expectDenseIntact(cache, base, original);
    const lm = await loadCausalLm(cache, base.key, { device: 'wasm' });
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 5 })).newIds).toHaveLength(5);
    await lm.model.dispose();

    const again: CompressProgress[] = [];
    const resumed = await compressCachedModel(cache, base.key, request, { onProgress: (p) => again.push(p) });
    expect(again.map((p) => p.message)).toContain(`going on from layer 3/${layers}: 2 layers kept from the stopped run`);
    expect(again.some((p) => p.phase === 'compress' && (p.layer === 0 || p.layer === 1))).toBe(false);
    expect(again.some((p) => p.phase === 'compress' && p.layer === 2)).toBe(true);
    const manifest = await cache.manifest(resumed.key);
    expect(manifest?.status).toBe('complete');
    expect(Object.keys(manifest!.files).filter((f) => f.startsWith('resume/'))).toEqual([]);
    expect(resumed.linears).toHaveLength(layers * 7);
    expect(resumed.timings.perLayer.map((t) => t.layer)).toEqual([...Array(layers).keys()]);
    const resumedBytes = await cache.readFile(resumed.key, 'model.safetensors');
    const resumedGraph = await cache.readFile(resumed.key, 'onnx/model.onnx_data');

    // The same compression without a stop.
    await cache.deleteModel(resumed.key);
    const whole = await compressCachedModel(cache, base.key, request);
    expect(whole.key).toBe(resumed.key);
    expect(equalBytes(await cache.readFile(whole.key, 'model.safetensors'), resumedBytes)).toBe(true);
    expect(equalBytes(await cache.readFile(whole.key, 'onnx/model.onnx_data'), resumedGraph)).toBe(true);
    expect(resumed.linears.map((l) => [l.name, l.error, l.zeros])).toEqual(whole.linears.map((l) => [l.name, l.error, l.zeros]));
    await cache.deleteModel(whole.key);
  });

  it('a NaN weight is refused with the layer and tensor named; nothing is stored', async () => {
    const url = await corruptedCopy(`nan-${crypto.randomUUID().slice(0, 8)}`, (n, v) => {
      if (n === 'model.layers.3.mlp.up_proj.weight') v[7] = NaN;
    });
    const bad = await downloadModel(cache, urlSource(url));
    const before = await cache.readFile(bad.key, 'model.safetensors');
    await expect(
      compressCachedModel(cache, bad.key, { settings: { method: 'rtn', bits: 4 }, calibration, samples: 4, seqLen: 32 }),
    ).rejects.toThrow(/^layer 3: model\.layers\.3\.mlp\.up_proj\.weight holds NaN at element 7/);
    // Self-generated calibration needs the dense model to run first: its graph is refused, and
    // the message says why and which calibration needs no run.
    await expect(
      compressCachedModel(cache, bad.key, { settings: { method: 'rtn', bits: 4 }, calibration: { kind: 'self' }, samples: 2, seqLen: 16 }),
    ).rejects.toThrow(
      /^self-generated calibration needs the dense model to write its samples, and it cannot run here: model\.layers\.3\.mlp\.up_proj\.weight of .* holds NaN at element 7.*Calibrate on the built-in text or on a text of your own instead/,
    );
    expect(await variantsIn(cache)).toEqual([]);
    await expectDenseIntact(cache, bad, before);
  });

  it('activations that overflow on a calibration batch are refused with the layer named', async () => {
    const url = await corruptedCopy(`inf-${crypto.randomUUID().slice(0, 8)}`, (n, v) => {
      // Finite weights whose SwiGLU product (~1e60) cannot be held in fp32.
      if (n === 'model.layers.2.mlp.gate_proj.weight' || n === 'model.layers.2.mlp.up_proj.weight')
        for (let i = 0; i < v.length; i++) v[i] *= 1e30;
    });
    const bad = await downloadModel(cache, urlSource(url));
    const err = await compressCachedModel(cache, bad.key, { settings: { method: 'wanda' }, calibration, samples: 4, seqLen: 32 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.message).toMatch(
      /^layer 2: the calibration activations entering down_proj hold (NaN|-?Infinity) \(sample \d+, token \d+, channel \d+\)/,
    );
    expect(await variantsIn(cache)).toEqual([]);
  });

  it('a Hessian that is not positive definite is retried with more damping, and the report says so', async () => {
    const report = await compressCachedModel(
      cache,
      base.key,
      { settings: { method: 'gptq', bits: 4, groupSize: 64 }, calibration, samples: 8, seqLen: 64, kernels: 'typescript' },
      {
        onHessian: (layer, linear, H) => {
          if (layer !== 1 || linear !== 'o_proj') return;
          const n = Math.sqrt(H.length);
          let mean = 0;
          for (let i = 0; i < n; i++) mean += H[i * n + i] / n;
          // A negative eigenvalue beyond 1% of mean(diag H): damping 0.01 cannot make it positive definite.
          H[n * n - 1] = -0.015 * mean;
        },
      },
    );
    const o = report.linears.find((l) => l.layer === 1 && l.linear === 'o_proj')!;
    expect(o.solver!.retries).toBeGreaterThanOrEqual(1);
    expect(o.solver!.percdamp).toBeGreaterThan(0.01);
    expect(report.summary.dampRetries).toBe(o.solver!.retries);
    expect(report.linears.filter((l) => l.solver!.retries > 0)).toHaveLength(1);
    expect((await readVariantReport(cache, report.key)).summary.dampRetries).toBe(o.solver!.retries);
    await cache.deleteModel(report.key);
  });

  it('bad settings are refused before anything is written', async () => {
    await expect(compressCachedModel(cache, base.key, { settings: { method: 'gptq', bits: 5 }, calibration })).rejects.toThrow(
      /bits must be 3, 4 or 8/,
    );
    await expect(compressCachedModel(cache, base.key, { settings: { method: 'wanda', bits: 4 }, calibration })).rejects.toThrow(
      /wanda prunes/,
    );
    expect(await variantsIn(cache)).toEqual([]);
  });
});
