import gemmWgsl from '../../../shaders/gemm.wgsl?raw';
import type { Recorder } from './kernel';
import { Uniforms } from './limits';

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

/** gemm.wgsl: a workgroup covers a 32×32 tile of C. */
const TILE = 32;

/**
 * Records the GEMM, split into several dispatches when the tile grid exceeds `maxDim`
 * workgroups in a dimension.
 */
export function encodeGemm(rec: Recorder, g: GemmArgs<GPUBuffer>, maxDim: number): void {
  if (g.m === 0 || g.n === 0) return;
  const tm = Math.ceil(g.m / TILE);
  const tn = Math.ceil(g.n / TILE);
  for (let m0 = 0; m0 < tm; m0 += maxDim) {
    for (let n0 = 0; n0 < tn; n0 += maxDim) {
      const params = new Uniforms()
        .u(g.m)
        .u(g.n)
        .u(g.k)
        .u(g.a.off)
        .u(g.a.rs)
        .u(g.a.cs)
        .u(g.b.off)
        .u(g.b.rs)
        .u(g.b.cs)
        .u(g.c.off)
        .u(g.c.rs)
        .u(m0)
        .u(n0)
        .f(g.alpha)
        .f(g.beta)
        .build();
      rec.dispatch(
        gemmWgsl,
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

/** TypeScript reference for `shaders/gemm.wgsl`: fp32 products and sums, k ascending. */
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
