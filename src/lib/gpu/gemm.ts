import gemmTiledWgsl from '../../../shaders/gemm-tiled.wgsl?raw';
import gemmWgsl from '../../../shaders/gemm.wgsl?raw';
import type { Recorder } from './kernel';
import { defineParams } from './params';
import { composeWgsl } from './shader';

/** A strided view: element (i, j) is at `off + i·rs + j·cs`. */
export interface StridedView<B> {
  buf: B;
  off: number;
  rs: number;
  cs: number;
}

/** C[i][j] = alpha·C[i][j] + beta·Σ_k A(i, k)·B(k, j) over an m×n window of C (row stride `c.rs`, unit column stride). */
export interface GemmArgs<B> {
  m: number;
  n: number;
  k: number;
  a: StridedView<B>;
  b: StridedView<B>;
  c: { buf: B; off: number; rs: number };
  alpha: number;
  beta: number;
}

/**
 * The two GEMM kernels, one result: `registers` (gemm.wgsl, 32×32 tiles from registers alone,
 * what software adapters run fastest) and `tiled` (gemm-tiled.wgsl, 64×64 tiles staged in
 * workgroup memory, for GPUs, where gemm.wgsl measured ~0.4 TFLOP/s on an H200).
 */
export type GemmKernel = 'registers' | 'tiled';

const kernelOf = new WeakMap<GPUDevice, GemmKernel>();

/** Which kernel GEMMs on this device run (default `registers`; `prepareDevice` picks `tiled` on hardware). */
export function setGemmKernel(device: GPUDevice, kernel: GemmKernel): void {
  kernelOf.set(device, kernel);
}

export function gemmKernelOf(device: GPUDevice): GemmKernel {
  return kernelOf.get(device) ?? 'registers';
}

export const GEMM_PARAMS = defineParams({
  m: 'u32',
  n: 'u32',
  k: 'u32',
  a_off: 'u32',
  a_rs: 'u32',
  a_cs: 'u32',
  b_off: 'u32',
  b_rs: 'u32',
  b_cs: 'u32',
  c_off: 'u32',
  c_rs: 'u32',
  tile_m0: 'u32',
  tile_n0: 'u32',
  alpha: 'f32',
  beta: 'f32',
});

/** Each kernel's source and the side of the square tile of C one workgroup covers. */
const KERNELS: Record<GemmKernel, { tile: number; wgsl: string }> = {
  registers: { tile: 32, wgsl: composeWgsl(GEMM_PARAMS.wgsl, gemmWgsl) },
  tiled: { tile: 64, wgsl: composeWgsl(GEMM_PARAMS.wgsl, gemmTiledWgsl) },
};

/**
 * Records the GEMM, split into several dispatches when the tile grid exceeds `maxDim`
 * workgroups in a dimension.
 */
export function encodeGemm(rec: Recorder, g: GemmArgs<GPUBuffer>, maxDim: number): void {
  if (g.m === 0 || g.n === 0) return;
  const kernel = KERNELS[gemmKernelOf(rec.device)];
  const tm = Math.ceil(g.m / kernel.tile);
  const tn = Math.ceil(g.n / kernel.tile);
  for (let m0 = 0; m0 < tm; m0 += maxDim) {
    for (let n0 = 0; n0 < tn; n0 += maxDim) {
      const params = GEMM_PARAMS.write({
        m: g.m,
        n: g.n,
        k: g.k,
        a_off: g.a.off,
        a_rs: g.a.rs,
        a_cs: g.a.cs,
        b_off: g.b.off,
        b_rs: g.b.rs,
        b_cs: g.b.cs,
        c_off: g.c.off,
        c_rs: g.c.rs,
        tile_m0: m0,
        tile_n0: n0,
        alpha: g.alpha,
        beta: g.beta,
      });
      rec.dispatch(
        kernel.wgsl,
        [
          { kind: 'uniform', data: params },
          { kind: 'read', buffer: g.a.buf },
          { kind: 'read', buffer: g.b.buf },
          { kind: 'readwrite', buffer: g.c.buf },
        ],
        [Math.min(maxDim, tn - n0), Math.min(maxDim, tm - m0)],
      );
    }
  }
}

/** TypeScript reference for `shaders/gemm.wgsl` and `gemm-tiled.wgsl`: fp32 products and sums, k ascending. */
export function gemmReference(g: GemmArgs<Float32Array>): void {
  const f = Math.fround;
  for (let i = 0; i < g.m; i++) {
    for (let j = 0; j < g.n; j++) {
      let acc = 0;
      for (let k = 0; k < g.k; k++)
        acc = f(acc + f(g.a.buf[g.a.off + i * g.a.rs + k * g.a.cs] * g.b.buf[g.b.off + k * g.b.rs + j * g.b.cs]));
      const at = g.c.off + i * g.c.rs + j;
      g.c.buf[at] = f(f(g.alpha * g.c.buf[at]) + f(g.beta * acc));
    }
  }
}
