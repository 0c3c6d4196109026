import { beforeAll, describe, expect, it } from 'vitest';
import { requestDevice } from '../../../src/lib/gpu/device';
import { dispatch, readF32, storageBuffer, uploadF32 } from '../../../src/lib/gpu/kernel';
import { AXPY_PARAMS, AXPY_WGSL } from './axpy';
import { downloadModel, type CachedModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import type { ShardCache } from '../../../src/lib/storage/shard-cache';
import { compressCachedModel, type CompressProgress } from '../../../src/lib/variants/compress-model';
import { VARIANT_PREFIX } from '../../../src/lib/variants/store';
import { freshCache, STORIES } from '../helpers';

let cache: ShardCache;
let base: CachedModel;
const calibration = { kind: 'builtin' as const };

beforeAll(async () => {
  cache = freshCache();
  base = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
});

async function variantsIn(c: ShardCache) {
  return (await c.listModels()).filter((m) => m.key.startsWith(VARIANT_PREFIX));
}

describe('WebGPU errors are never read back as results', () => {
  it('reading a buffer that failed validation (over maxBufferSize) throws instead of returning zeros', async () => {
    const device = await requestDevice();
    try {
      const big = storageBuffer(device, device.limits.maxBufferSize + 16);
      const err = await readF32(device, big, 4).then(
        (v) => new Error(`read back ${Array.from(v).join(', ')} from a buffer that was never created`),
        (e: unknown) => e as Error,
      );
      expect(err.name).toBe('GpuFaultError');
      expect(err.message).toMatch(/WebGPU validation error/);
      // The device stays usable: a scope caught the error, so nothing was left uncaptured.
      const ok = uploadF32(device, Float32Array.from([1, 2, 3, 4]));
      expect(Array.from(await readF32(device, ok, 4))).toEqual([1, 2, 3, 4]);
    } finally {
      device.destroy();
    }
  });

  it('the output of a dispatch that failed validation is not read back as its result', async () => {
    const device = await requestDevice();
    try {
      const y = Float32Array.from([1, 2, 3, 4]);
      const yb = uploadF32(device, y);
      const params = AXPY_PARAMS.write({ a: 2, n: y.length });
      // One buffer bound both read-only and read-write in the same dispatch: invalid, so the
      // submit does nothing and y keeps its input values.
      dispatch(
        device,
        AXPY_WGSL,
        [
          { kind: 'uniform', data: params },
          { kind: 'read', buffer: yb },
          { kind: 'readwrite', buffer: yb },
        ],
        [1],
      );
      const err = await readF32(device, yb, y.length).then(
        (v) => new Error(`read back ${Array.from(v).join(', ')} as the result of a failed dispatch`),
        (e: unknown) => e as Error,
      );
      expect(err.name).toBe('GpuFaultError');
      expect(err.message).toMatch(/WebGPU validation error/);
      expect(err.message).toMatch(/submitting recorded dispatches|recording a dispatch/);
    } finally {
      device.destroy();
    }
  });
});

describe('a WebGPU device lost mid-compression', () => {
  it('stops the run naming the layer and linear, keeps the finished layers, and the next run gets a new device and goes on', async () => {
    const device = await requestDevice();
    const seen: CompressProgress[] = [];
    const settings = { method: 'gptq' as const, bits: 4 as const, groupSize: 64 };
    const err = await compressCachedModel(
      cache,
      base.key,
      { settings, calibration, samples: 4, seqLen: 32, kernels: 'webgpu' },
      {
        device,
        onProgress: (p) => {
          seen.push(p);
          if (p.layer === 2 && p.linear === 'o_proj') device.destroy();
        },
      },
    ).then(
      () => new Error('the run finished on a destroyed device'),
      (e: unknown) => e as Error,
    );
    expect(err.name).toBe('GpuDeviceLostError');
    expect(err.message).toMatch(/WebGPU device was lost/);
    expect(err.message).toContain('layer 2');
    expect(err.message).toContain('model.layers.2.self_attn.o_proj');
    expect(seen.some((p) => p.layer === 3)).toBe(false);
    expect(err.message).toContain('its 2 finished layers are kept: run it again (it gets a new GPU device) and it goes on from layer 3');
    // The finished layers are kept in a partial entry, never marked complete.
    const partial = await variantsIn(cache);
    expect(partial.map((m) => m.status)).toEqual(['partial']);
    expect(Object.keys(partial[0].files).filter((f) => f.startsWith('resume/'))).toHaveLength(2);

    // The lost device is not reused: the next run asks for a fresh one, goes on from layer 3 and completes.
    const again: CompressProgress[] = [];
    const report = await compressCachedModel(
      cache,
      base.key,
      { settings, calibration, samples: 4, seqLen: 32, kernels: 'webgpu' },
      { device, onProgress: (p) => again.push(p) },
    );
    expect(again.some((p) => /going on from layer 3\/\d+: 2 layers kept/.test(p.message))).toBe(true);
    expect(report.kernels).toBe('webgpu');
    expect(report.linears).toHaveLength(base.spec.numLayers * 7);
    const stored = await variantsIn(cache);
    expect(stored.map((m) => m.key)).toEqual([report.key]);
    expect((await cache.manifest(report.key))?.status).toBe('complete');
  });
});
