import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressLayers } from '../../../src/lib/compress/engine/driver';

import { mapSource } from '../../../src/lib/compress/engine/layer-source';
import { relativeOutputError } from '../../../src/lib/compress/reference/output-error';
import { quantizeRtn } from '../../../src/lib/compress/reference/quantizer';
import { resolveSettings } from '../../../src/lib/compress/reference/settings';
import { matrix } from '../../../src/lib/compress/reference/types';
import { requestDevice } from '../../../src/lib/gpu/device';
import { gpuRelativeOutputError, outputErrorFits, outputErrorOnDevice, setOutputErrorOnDevice } from '../../../src/lib/gpu/output-error';
import { normals } from '../../unit/compress/fixtures';
import { tinyCalibration, tinySpec, tinyWeights } from '../../unit/compress/tiny-model';

/**
 * The error report on the device against its TypeScript reference (`relativeOutputError`, double
 * sums): the device sums each product in fp32, so the two agree to a few parts in a million of
 * the error, also for 8-bit weights whose error is 1e-5 of the output (the difference W − Ŵ is
 * taken before the product, not after).
 */
const TOL = 1e-4;

let device: GPUDevice;
beforeAll(async () => {
  device = await requestDevice();
});
afterAll(() => device?.destroy());

describe('relative output error on the device', () => {
  it('matches the TypeScript reference for 3-, 4- and 8-bit weights on ragged shapes', async () => {
    for (const [tokens, rows, cols] of [
      [64, 48, 80],
      [29, 37, 53],
      [130, 96, 64],
    ]) {
      const X = normals(tokens * cols, tokens + rows);
      const W = matrix(rows, cols, normals(rows * cols, cols, 0.05));
      for (const bits of [3, 4, 8]) {
        const What = quantizeRtn(W, { bits, groupSize: 16, sym: false }).weight;
        const want = relativeOutputError(W, What, matrix(tokens, cols, X));
        const got = await gpuRelativeOutputError(device, X, W.data, What.data, tokens, rows, cols);
        expect(want, `${bits} bits`).toBeGreaterThan(bits === 8 ? 1e-7 : 1e-4);
        expect(Math.abs(got - want) / want, `${tokens}×${rows}×${cols}, ${bits} bits`).toBeLessThan(TOL);
      }
    }
  });

  it('is 0 for unchanged weights, Infinity when the output is zero and the error is not, NaN without tokens', async () => {
    const W = normals(12 * 20, 3);
    expect(await gpuRelativeOutputError(device, normals(5 * 20, 4), W, W, 5, 12, 20)).toBe(0);
    const zeros = new Float32Array(12 * 20);
    expect(await gpuRelativeOutputError(device, normals(5 * 20, 4), zeros, W, 5, 12, 20)).toBe(Infinity);
    expect(await gpuRelativeOutputError(device, new Float32Array(0), W, W, 0, 12, 20)).toBeNaN();
    expect(outputErrorFits(device, 1024, 1536, 576)).toBe(true);
    expect(outputErrorFits(device, 1 << 20, 1 << 14, 1 << 12)).toBe(false);
  });

  it('the driver reports the same errors with the error on the device, which a software adapter leaves off', async () => {
    // SwiftShader: prepareDevice keeps the report on the CPU.
    expect(outputErrorOnDevice(device)).toBe(false);
    const spec = tinySpec();
    const run = () =>
      compressLayers({
        spec,
        source: mapSource(tinyWeights(spec)),
        calibration: tinyCalibration(spec, 3, 20),
        settings: resolveSettings({ method: 'gptq', bits: 4, groupSize: 16 }),
        kernels: { kind: 'webgpu', device },
        forward: 'typescript',
      });
    const onCpu = await run();
    setOutputErrorOnDevice(device, true);
    try {
      const onGpu = await run();
      for (const [i, l] of onCpu.linears.entries()) {
        expect(Math.abs(onGpu.linears[i].error - l.error) / l.error, l.name).toBeLessThan(TOL);
        expect(onGpu.linears[i].errorTokens).toBe(l.errorTokens);
      }
      // The errors came from the device: not the CPU's bits on every linear.
      expect(onGpu.linears.some((l, i) => l.error !== onCpu.linears[i].error)).toBe(true);
    } finally {
      setOutputErrorOnDevice(device, false);
    }
  });
});
