import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gptq } from '../../../src/lib/compress/reference/gptq';
import { magnitude } from '../../../src/lib/compress/reference/magnitude';
import { packQuantized } from '../../../src/lib/compress/reference/pack';
import { quantizeRtn, type QuantConfig } from '../../../src/lib/compress/reference/quantizer';
import { sparsegpt } from '../../../src/lib/compress/reference/sparsegpt';
import { AbsMeanAccumulator, HessianAccumulator, WandaAccumulator } from '../../../src/lib/compress/reference/stats';
import { matrix, type Matrix, type Sparsity } from '../../../src/lib/compress/reference/types';
import { wanda } from '../../../src/lib/compress/reference/wanda';
import { requestDevice } from '../../../src/lib/gpu/device';
import { encodeGemm, gemmKernelOf, gemmReference, setGemmKernel, type GemmArgs } from '../../../src/lib/gpu/gemm';
import { readF32, Recorder, uploadF32 } from '../../../src/lib/gpu/kernel';
import { packGpu } from '../../../src/lib/gpu/pack';
import { magnitudeGpu, wandaGpu } from '../../../src/lib/gpu/prune';
import { rtnGpu } from '../../../src/lib/gpu/quant';
import { gptqGpu, sparsegptGpu } from '../../../src/lib/gpu/solver';
import { GpuStatsAccumulator } from '../../../src/lib/gpu/stats';
import { correlatedX, countDiff, normals, randomMatrix } from '../../unit/compress/fixtures';
import {
  expectSolverClose,
  expectStatsClose,
  relDiff,
  SOLVER_FLIP_FRACTION,
  SOLVER_REL_TOL,
  STATS_REL_TOL,
  useExactSolverTolerancesOnSwiftShader,
} from './compare';

let device: GPUDevice;
let exactOnThisAdapter = false;
beforeAll(async () => {
  device = await requestDevice();
  exactOnThisAdapter = await useExactSolverTolerancesOnSwiftShader();
});
afterAll(() => device?.destroy());

/** Values on a 0.5 grid: plenty of exact ties in |w| and in the quantizer's x/scale. */
function tiedMatrix(rows: number, cols: number, seed: number): Matrix {
  return matrix(
    rows,
    cols,
    normals(rows * cols, seed, 2).map((v) => Math.round(v * 2) / 2),
  );
}

describe('gemm.wgsl and gemm-tiled.wgsl', () => {
  // C[2:2+m, 5:5+n] = 0.5·C + 2·Aᵀ-window · B-window
  const cases = [
    // 32×32 tiles: a 2×2 grid, split into four dispatches at maxDim 1; one 64×64 tile
    { m: 37, n: 47, k: 33 },
    // several 64×64 tiles in both directions, k a multiple of the tiled kernel's 16 plus one
    { m: 150, n: 131, k: 81 },
  ];
  it('requestDevice keeps a software adapter on the register kernel, which it runs fastest', () => {
    expect(gemmKernelOf(device)).toBe(exactOnThisAdapter ? 'registers' : 'tiled');
  });

  for (const kernel of ['registers', 'tiled'] as const)
    for (const { m, n, k } of cases)
      it(`${kernel}: matches the reference on strided, transposed windows, split over several dispatches (${m}×${n}, k ${k})`, async () => {
        const A = normals((k + 7) * (m + 13), 1);
        const B = normals((k + 5) * (n + 13), 2);
        const C = normals((m + 8) * (n + 23), 3);
        const args = (a: Float32Array, b: Float32Array, c: Float32Array): GemmArgs<Float32Array> => ({
          m,
          n,
          k,
          a: { buf: a, off: 3, rs: 1, cs: m + 13 },
          b: { buf: b, off: n + 13 + 4, rs: n + 13, cs: 1 },
          c: { buf: c, off: 2 * (n + 23) + 5, rs: n + 23 },
          alpha: 0.5,
          beta: 2,
        });
        const want = C.slice();
        gemmReference(args(A, B, want));
        setGemmKernel(device, kernel);
        try {
          for (const maxDim of [65535, 2, 1]) {
            const [a, b, c] = [A, B, C].map((x) => uploadF32(device, x));
            const rec = new Recorder(device);
            const g = args(A, B, C);
            encodeGemm(rec, { ...g, a: { ...g.a, buf: a }, b: { ...g.b, buf: b }, c: { ...g.c, buf: c } }, maxDim);
            rec.submit();
            const got = await readF32(device, c, C.length);
            expect(relDiff(got, want)).toBeLessThanOrEqual(STATS_REL_TOL);
            // Both kernels sum each dot product in the oracle's order: on SwiftShader, bit for bit.
            if (exactOnThisAdapter) expect(got).toEqual(want);
            [a, b, c].forEach((x) => x.destroy());
          }
        } finally {
          setGemmKernel(device, 'registers');
        }
      });
});

describe('stats.wgsl + Hessian GEMM', () => {
  it('Hessian, Wanda norms and mean |x| follow the TS running means (dead channels, band and token splits)', async () => {
    const cols = 37;
    const X1 = correlatedX(20, cols, 10, { dead: [0, 17] });
    const X2 = correlatedX(33, cols, 11, { dead: [0, 17] });
    const h = new HessianAccumulator(cols);
    const s = new WandaAccumulator(cols);
    const a = new AbsMeanAccumulator(cols);
    for (const [X, b] of [
      [X1, 1],
      [X2, 3],
    ] as const) {
      h.add(X, b);
      s.add(X, b);
      a.add(X);
    }
    for (const tuning of [{}, { maxBindingBytes: cols * 4 * 8, maxWorkgroupsPerDim: 2 }]) {
      const g = new GpuStatsAccumulator(device, cols, { tuning });
      g.add(X1, 1);
      g.add(X2, 3);
      expectStatsClose(await g.readHessian(), h.H);
      expectStatsClose(await g.readWanda(), s.s);
      expectStatsClose(await g.readAbsMean(), a.mean);
      const H = await g.readHessian();
      expect(H[0]).toBe(0);
      expect(H[17 * cols + 17]).toBe(0);
      g.destroy();
    }
  });
});

describe('quant.wgsl', () => {
  const configs: QuantConfig[] = [
    { bits: 4, groupSize: 16, sym: true },
    { bits: 3, groupSize: 16, sym: false },
    { bits: 8, groupSize: 0, sym: true },
    { bits: 4, groupSize: 0, sym: false },
    { bits: 4, groupSize: 16, sym: false, variant: 'awq' },
    { bits: 3, groupSize: 16, sym: true, variant: 'awq' },
  ];

  it('fake-quant, codes, scales and zeros identical to quantizeRtn (ties, short last group, all-zero group)', async () => {
    const W = tiedMatrix(9, 45, 20);
    W.data.fill(0, 0, 16);
    const R = randomMatrix(7, 45, 21);
    for (const cfg of configs) {
      for (const M of [W, R]) {
        const want = quantizeRtn(M, cfg);
        const got = await rtnGpu(device, M, cfg, { maxWorkgroupsPerDim: 2 });
        expect(Array.from(got.scales)).toEqual(Array.from(want.scales));
        expect(Array.from(got.zeros)).toEqual(Array.from(want.zeros));
        expect(Array.from(got.codes)).toEqual(Array.from(want.codes));
        expect(Array.from(got.weight.data)).toEqual(Array.from(want.weight.data));
      }
    }
  });

  it('rounds exact halves to even', async () => {
    const W = matrix(1, 6, Float32Array.from([0, 0.125, 0.375, 0.625, 0.875, 3.75]));
    const got = await rtnGpu(device, W, { bits: 4, sym: false });
    expect(Array.from(got.codes)).toEqual([0, 0, 2, 2, 4, 15]);
  });

  it('splits rows into chunks under the binding limit', async () => {
    const W = randomMatrix(23, 40, 22);
    const cfg = { bits: 4, groupSize: 16, sym: false };
    const got = await rtnGpu(device, W, cfg, { maxBindingBytes: 40 * 4 * 5 });
    expect(Array.from(got.weight.data)).toEqual(Array.from(quantizeRtn(W, cfg).weight.data));
  });
});

describe('nm.wgsl and rowselect.wgsl', () => {
  const sparsities: Sparsity[] = [{ n: 2, m: 4 }, { n: 4, m: 8 }, { n: 1, m: 3 }, { ratio: 0.5 }, { ratio: 0.3 }];

  it('magnitude masks identical to the TS reference, with ties and a short last group', async () => {
    for (const W of [tiedMatrix(11, 45, 30), randomMatrix(6, 300, 31)]) {
      for (const sp of sparsities) {
        const want = magnitude(W, sp);
        const got = await magnitudeGpu(device, W, sp, { maxWorkgroupsPerDim: 3, maxBindingBytes: W.cols * 4 * 4 });
        expect(Array.from(got.mask)).toEqual(Array.from(want.mask));
        expect(Array.from(got.weight.data)).toEqual(Array.from(want.weight.data));
      }
    }
  });

  it('Wanda masks identical, dead channels first', async () => {
    for (const W of [tiedMatrix(11, 45, 32), randomMatrix(5, 300, 33)]) {
      const s = normals(W.cols, 34).map((v) => v * v);
      s[1] = 0;
      s[7] = 0;
      s.fill(1, 20, 40);
      for (const sp of sparsities) {
        const want = wanda(W, s, sp);
        const got = await wandaGpu(device, W, s, sp, { maxWorkgroupsPerDim: 3 });
        expect(Array.from(got.mask)).toEqual(Array.from(want.mask));
        expect(Array.from(got.weight.data)).toEqual(Array.from(want.weight.data));
        for (let r = 0; r < W.rows; r++) {
          if (W.data[r * W.cols + 1] !== 0 && 'n' in sp && sp.n >= 2) expect(got.mask[r * W.cols + 1]).toBe(1);
        }
      }
    }
  });
});

describe('block.wgsl + select.wgsl + lazy GEMM', () => {
  const cols = 72;
  const X = correlatedX(160, cols, 40, { dead: [5, 40] });
  const hacc = new HessianAccumulator(cols);
  hacc.add(X, 2);
  const H = hacc.H;
  const W = randomMatrix(40, cols, 41);
  // 9 rows per chunk (512 bytes per row budget) and a 16-row slab of U fit 16·72·4 bytes.
  const chunked = { maxBindingBytes: 16 * cols * 4, maxWorkgroupsPerDim: 2 };

  it('GPTQ matches the TS reference (groups, act_order, per-channel, asym, row chunks)', async () => {
    for (const [opts, tuning] of [
      [{ bits: 4, groupSize: 16, actOrder: true, blockSize: 32 }, {}],
      [{ bits: 3, groupSize: 0, actOrder: false }, {}],
      [{ bits: 3, groupSize: 24, sym: false, actOrder: true, blockSize: 16 }, chunked],
      [{ bits: 8, groupSize: 32, actOrder: false, blockSize: 16 }, chunked],
    ] as const) {
      const want = gptq(W, H, opts);
      const got = await gptqGpu(device, W, H, opts, tuning);
      expect(got.report.deadColumns).toBe(2);
      expect(Array.from(got.gIdx ?? [])).toEqual(Array.from(want.gIdx ?? []));
      expectSolverClose(got.weight, want.weight, got.codes, want.codes);
      expect(relDiff(got.scales, want.scales)).toBeLessThanOrEqual(SOLVER_REL_TOL);
      expect(countDiff(got.zeros, want.zeros)).toBeLessThanOrEqual(Math.floor(SOLVER_FLIP_FRACTION * got.zeros.length));
    }
  });

  it('SparseGPT matches the TS reference (N:M, unstructured across row chunks)', async () => {
    for (const [opts, tuning] of [
      [{ sparsity: { n: 2, m: 4 }, blockSize: 32 }, {}],
      [{ sparsity: { n: 4, m: 8 }, blockSize: 16 }, chunked],
      [{ sparsity: { ratio: 0.5 }, blockSize: 32 }, {}],
      [{ sparsity: { ratio: 0.6 }, blockSize: 16 }, chunked],
    ] as const) {
      const want = sparsegpt(W, H, opts);
      const got = await sparsegptGpu(device, W, H, opts, tuning);
      expectSolverClose(got.weight, want.weight, got.mask, want.mask);
    }
  });

  it('one row per invocation: a row grid of several workgroups, split over dispatches, matches the TS reference', async () => {
    // 300 rows = 5 workgroups of 64; at 2 per grid dimension, two dispatches with a 2-D grid.
    const tall = randomMatrix(300, cols, 43);
    const tuning = { maxWorkgroupsPerDim: 2 };
    const q = { bits: 4, groupSize: 24, actOrder: true, blockSize: 32 } as const;
    const wantQ = gptq(tall, H, q);
    const gotQ = await gptqGpu(device, tall, H, q, tuning);
    expectSolverClose(gotQ.weight, wantQ.weight, gotQ.codes, wantQ.codes);
    const sp = { sparsity: { n: 2, m: 4 }, blockSize: 32 } as const;
    const wantP = sparsegpt(tall, H, sp);
    const gotP = await sparsegptGpu(device, tall, H, sp, tuning);
    expectSolverClose(gotP.weight, wantP.weight, gotP.mask, wantP.mask);
  });
});

describe('pack.wgsl', () => {
  it('bytes identical to packQuantized (4/8 bits, zero points, per-channel, row chunks)', async () => {
    const W = randomMatrix(13, 72, 50);
    for (const cfg of [
      { bits: 4, groupSize: 16, sym: false },
      { bits: 4, groupSize: 32, sym: true },
      { bits: 8, groupSize: 16, sym: false },
      { bits: 4, groupSize: 0, sym: false },
      { bits: 8, groupSize: 0, sym: true },
    ]) {
      const q = quantizeRtn(W, cfg);
      const want = packQuantized(q);
      for (const tuning of [{}, { maxBindingBytes: 72 * 4 * 3, maxWorkgroupsPerDim: 2 }]) {
        const got = await packGpu(device, q, {}, tuning);
        expect(got.blockSize).toBe(want.blockSize);
        expect(Array.from(got.B)).toEqual(Array.from(want.B));
        expect(Array.from(got.scales)).toEqual(Array.from(want.scales));
        expect(got.zeroPoints && Array.from(got.zeroPoints)).toEqual(want.zeroPoints && Array.from(want.zeroPoints));
      }
    }
  });
});
