import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_SETTINGS } from '../../../src/lib/bench/compress';
import { compressLinears, type ReferenceProblem } from '../../../src/lib/bench/reference';
import { gpuLinearLoss } from '../../../src/lib/gpu/output-error';
import { squaredErrorF32 } from '../../../src/lib/compress/reference/awq';
import { linearF32Sums } from '../../../src/lib/compress/reference/block';
import { TYPESCRIPT_KERNELS } from '../../../src/lib/compress/engine/backend';
import { resolveSettings } from '../../../src/lib/compress/reference/settings';
import { matrix } from '../../../src/lib/compress/reference/types';
import { requestDevice } from '../../../src/lib/gpu/device';
import { normals } from '../../unit/compress/fixtures';
import { relDiff, useExactSolverTolerancesOnSwiftShader } from './compare';

/**
 * The reference benchmark's AWQ on the WGSL kernels (candidates quantized and scored on the
 * device) chooses what its TypeScript kernels choose: the same search on the same sums.
 */
let device: GPUDevice;
let exact = false;
beforeAll(async () => {
  device = await requestDevice();
  exact = await useExactSolverTolerancesOnSwiftShader();
});
afterAll(() => device?.destroy());

describe('the reference benchmark on the WGSL kernels', () => {
  it("a candidate's loss on the device is the TypeScript loss: Σ (X·qᵀ − Y)²", async () => {
    const [rows, cols, T] = [40, 72, 50];
    const X = matrix(T, cols, normals(T * cols, 8));
    const W = normals(rows * cols, 9, 0.2);
    const q = W.map((v) => Math.round(v * 16) / 16);
    const Y = linearF32Sums(X.data, W, T, cols, rows);
    const loss = gpuLinearLoss(device, X, rows, Y);
    try {
      const want = squaredErrorF32(linearF32Sums(X.data, q, T, cols, rows), Y);
      const got = await loss.sum(q);
      // per-row sums added up in another order than squaredErrorF32's
      expect(Math.abs(got - want) / want).toBeLessThan(1e-6);
      // the same buffers serve the next candidate
      expect(await loss.sum(W)).toBe(0);
    } finally {
      loss.destroy();
    }
  });

  it('AWQ per linear equals the TypeScript kernels (scale search scored on the device, clip search)', async () => {
    const [rows, cols, T] = [48, 128, 96];
    const channel = Float32Array.from({ length: cols }, (_, j) => 0.1 + (3 * ((j * 37) % 101)) / 101);
    const X = normals(T * cols, 5).map((v, i) => v * channel[i % cols]);
    const problem: ReferenceProblem = {
      samples: 2,
      seqLen: T / 2,
      taps: new Map([['x', matrix(T, cols, X)]]),
      linears: [
        { name: 'q', layer: 0, linear: 'q_proj', tap: 'x', W: matrix(rows, cols, normals(rows * cols, 6, 0.2)) },
        { name: 'v', layer: 0, linear: 'v_proj', tap: 'x', W: matrix(rows, cols, normals(rows * cols, 7, 0.2)) },
      ],
    };
    const settings = resolveSettings({ ...BENCH_SETTINGS.awq, groupSize: 64 });
    const ts = await compressLinears(TYPESCRIPT_KERNELS, settings, problem);
    const gpu = await compressLinears({ kind: 'webgpu', device }, settings, problem);
    for (const name of ['q', 'v']) {
      const [a, b] = [gpu.get(name)!.weight, ts.get(name)!.weight];
      if (exact) expect(a).toEqual(b);
      else expect(relDiff(a, b)).toBeLessThan(1e-3);
    }
  }, 120_000);
});
