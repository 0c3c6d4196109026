import { describe, expect, it } from 'vitest';
import { describeAdapter, requestDevice } from '../../src/lib/gpu/device';
import { axpyGpu, axpyReference } from './gpu/axpy';

describe('WebGPU smoke', () => {
  it('reports an adapter', async () => {
    const report = await describeAdapter();
    expect(report.available, report.reason).toBe(true);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('runs axpy.wgsl and matches the TypeScript reference', async () => {
    const device = await requestDevice();
    // 1000 is not a multiple of the workgroup size, so the bounds check is exercised.
    const n = 1000;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const y = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const gpu = await axpyGpu(device, 1.75, x, y);
    expect(Array.from(gpu)).toEqual(Array.from(axpyReference(1.75, x, y)));
    device.destroy();
  });
});
