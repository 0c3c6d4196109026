import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awqClipSearch, awqConfig } from '../../../src/lib/compress/reference/awq';
import { matrix } from '../../../src/lib/compress/reference/types';
import { requestDevice } from '../../../src/lib/gpu/device';
import { awqClipGpu } from '../../../src/lib/gpu/clip';
import { normals } from '../../unit/compress/fixtures';
import { useExactSolverTolerancesOnSwiftShader } from './compare';

let device: GPUDevice;
let exact = false;
beforeAll(async () => {
  device = await requestDevice();
  exact = await useExactSolverTolerancesOnSwiftShader();
});
afterAll(() => device?.destroy());

describe('awq-clip.wgsl', () => {
  it.each([
    {
      name: 'AWQ 3-bit zero point, groups of 32, a short last group',
      rows: 37,
      cols: 80,
      cfg: awqConfig(3, 32, true),
      tokens: 90,
      sample: 40,
    },
    { name: 'AWQ 4-bit without zero point, one group per row', rows: 20, cols: 48, cfg: awqConfig(4, 0, false), tokens: 33, sample: 512 },
    // Wider than err_steps' private group: the per-step kernel.
    { name: 'AWQ 4-bit, one 160-wide group per row', rows: 11, cols: 160, cfg: awqConfig(4, 0, true), tokens: 24, sample: 512 },
    // 15 shrink steps: err_steps makes two passes over the tokens.
    {
      name: 'AWQ 4-bit, groups of 64, a 30-point grid',
      rows: 13,
      cols: 128,
      cfg: awqConfig(4, 64, true),
      tokens: 30,
      sample: 512,
      grid: 30,
    },
    {
      name: 'GPTQ quantizer, asymmetric 4-bit, groups of 16',
      rows: 9,
      cols: 64,
      cfg: { bits: 4, groupSize: 16, sym: false },
      tokens: 50,
      sample: 16,
    },
  ])('$name: the chosen clip per (row, group) equals the TypeScript reference', async ({ rows, cols, cfg, tokens, sample, grid }) => {
    const W = matrix(rows, cols, normals(rows * cols, 3));
    // Heavy outliers make clipping worthwhile in some groups.
    for (let r = 0; r < rows; r += 3) W.data[r * cols + ((r * 7) % cols)] *= 6;
    const X = matrix(tokens, cols, normals(tokens * cols, 4));
    const opts = { sampleTokens: sample, ...(grid ? { grid } : {}) };
    const want = awqClipSearch(W, X, cfg, opts);
    // Small binding limit and one workgroup per dispatch: several row chunks and split launches.
    const got = await awqClipGpu(device, W, X, cfg, opts, { maxBindingBytes: 4096 * 4, maxWorkgroupsPerDim: 1 });
    const groups = want.length / rows;
    let clipped = 0;
    for (let i = 0; i < want.length; i++) {
      const r = Math.floor(i / groups);
      let m0 = 0;
      for (let j = (i % groups) * (cols / groups); j < ((i % groups) + 1) * (cols / groups); j++)
        m0 = Math.max(m0, Math.abs(W.data[r * cols + j]));
      if (want[i] < m0) clipped++;
    }
    expect(clipped).toBeGreaterThan(0);
    if (exact) expect(Array.from(got)).toEqual(Array.from(want));
    else {
      let differ = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
      expect(differ).toBeLessThanOrEqual(Math.ceil(0.01 * want.length));
    }
  });
});
