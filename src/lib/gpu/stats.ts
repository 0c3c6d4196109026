import gridWgsl from '../../../shaders/grid.wgsl?raw';
import statsWgsl from '../../../shaders/stats.wgsl?raw';
import { runningMeanFactors } from '../compress/reference/stats';
import type { Matrix } from '../compress/reference/types';
import { encodeGemm } from './gemm';
import { readF32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning, type Limits } from './limits';
import { defineParams } from './params';
import { composeWgsl } from './shader';

export const STATS_PARAMS = defineParams({
  tokens: 'u32',
  cols: 'u32',
  ...GRID_FIELDS,
  a_sq: 'f32',
  b_sq: 'f32',
  a_abs: 'f32',
  b_abs: 'f32',
});

const STATS_WGSL = composeWgsl(STATS_PARAMS.wgsl, gridWgsl, statsWgsl);

export interface GpuStatsOptions {
  /** Accumulate H = (2/N)ΣXᵀX (GPTQ, SparseGPT). Default true. */
  hessian?: boolean;
  /** Accumulate Wanda's per-channel Σx² mean and AWQ's mean |x|. Default true. */
  channels?: boolean;
  tuning?: GpuTuning;
}

/** A calibration sample already on the GPU: `tokens × cols` fp32, row-major, from offset 0. */
export interface GpuActivations {
  buffer: GPUBuffer;
  tokens: number;
}

/**
 * GPU twin of `HessianAccumulator`, `WandaAccumulator` and `AbsMeanAccumulator` (same
 * running-mean arithmetic). H lives in row bands, each its own buffer, so a Hessian larger
 * than one storage binding still accumulates; XᵀX for each band is a tiled GEMM with A = Xᵀ.
 */
export class GpuStatsAccumulator {
  /** Sequences seen (Hessian and Wanda's mean are over sequences). */
  n = 0;
  /** Tokens seen (AWQ's mean is over tokens). */
  tokens = 0;
  private readonly limits: Limits;
  private readonly bands: Array<{ r0: number; r1: number; buffer: GPUBuffer }> = [];
  private readonly sq: GPUBuffer | null = null;
  private readonly am: GPUBuffer | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly cols: number,
    opts: GpuStatsOptions = {},
  ) {
    this.limits = resolveLimits(device, opts.tuning);
    if (opts.hessian ?? true) {
      for (const [r0, r1] of rowChunks(cols, cols * 4, this.limits.maxBindingBytes)) {
        this.bands.push({ r0, r1, buffer: storageBuffer(device, (r1 - r0) * cols * 4) });
      }
    }
    if (opts.channels ?? true) {
      this.sq = storageBuffer(device, cols * 4);
      this.am = storageBuffer(device, cols * 4);
    }
  }

  /** Adds one sample of `sequences` sequences (X: tokens × cols). */
  add(X: Matrix | GpuActivations, sequences = 1): void {
    const tokens = 'rows' in X ? X.rows : X.tokens;
    if ('cols' in X && X.cols !== this.cols) throw new Error(`stats: X has ${X.cols} columns, expected ${this.cols}`);
    const h = runningMeanFactors(this.n, sequences, 2);
    const s = runningMeanFactors(this.n, sequences, 1);
    const a = runningMeanFactors(this.tokens, tokens, 1);
    this.n += sequences;
    this.tokens += tokens;
    // Token chunks keep each bound slice of X under the binding limit; the running-mean
    // rescale applies once, with the first chunk.
    const perChunk = Math.max(1, Math.floor(this.limits.maxBindingBytes / (this.cols * 4)));
    for (let t0 = 0, first = true; t0 < tokens; t0 += perChunk, first = false) {
      const t1 = Math.min(tokens, t0 + perChunk);
      let xb: GPUBuffer;
      let owned = false;
      if ('rows' in X) {
        xb = uploadF32(this.device, X.data.subarray(t0 * this.cols, t1 * this.cols));
        owned = true;
      } else {
        if (t0 > 0) throw new Error('stats: a GPU-resident sample must fit one storage binding');
        xb = X.buffer;
      }
      this.encode(xb, t1 - t0, first ? h.alpha : 1, h.beta, first ? s.alpha : 1, s.beta, first ? a.alpha : 1, a.beta);
      if (owned) void this.device.queue.onSubmittedWorkDone().then(() => xb.destroy());
    }
  }

  private encode(xb: GPUBuffer, tokens: number, ha: number, hb: number, sa: number, sb: number, aa: number, ab: number): void {
    const rec = new Recorder(this.device);
    const cols = this.cols;
    const maxDim = this.limits.maxWorkgroupsPerDim;
    for (const band of this.bands) {
      encodeGemm(
        rec,
        {
          m: band.r1 - band.r0,
          n: cols,
          k: tokens,
          a: { buf: xb, off: band.r0, rs: 1, cs: cols },
          b: { buf: xb, off: 0, rs: cols, cs: 1 },
          c: { buf: band.buffer, off: 0, rs: cols },
          alpha: ha,
          beta: hb,
        },
        maxDim,
      );
    }
    if (this.sq && this.am) {
      rec.dispatchRange(
        STATS_WGSL,
        STATS_PARAMS,
        { tokens, cols, a_sq: sa, b_sq: sb, a_abs: aa, b_abs: ab },
        Math.ceil(cols / 64),
        maxDim,
        [
          { kind: 'read', buffer: xb },
          { kind: 'readwrite', buffer: this.sq },
          { kind: 'readwrite', buffer: this.am },
        ],
      );
    }
    rec.submit();
  }

  /** The Hessian, cols × cols row-major. */
  async readHessian(): Promise<Float32Array> {
    if (!this.bands.length) throw new Error('stats: Hessian not accumulated');
    const out = new Float32Array(this.cols * this.cols);
    for (const b of this.bands) out.set(await readF32(this.device, b.buffer, (b.r1 - b.r0) * this.cols), b.r0 * this.cols);
    return out;
  }

  /** Wanda's s_j. */
  async readWanda(): Promise<Float32Array> {
    if (!this.sq) throw new Error('stats: channel statistics not accumulated');
    return readF32(this.device, this.sq, this.cols);
  }

  /** AWQ's mean |x_j|. */
  async readAbsMean(): Promise<Float32Array> {
    if (!this.am) throw new Error('stats: channel statistics not accumulated');
    return readF32(this.device, this.am, this.cols);
  }

  /** Band buffers of H (rows [r0, r1) each), for kernels that keep working on the GPU. */
  hessianBands(): ReadonlyArray<{ r0: number; r1: number; buffer: GPUBuffer }> {
    return this.bands;
  }

  destroy(): void {
    for (const b of this.bands) b.buffer.destroy();
    this.sq?.destroy();
    this.am?.destroy();
  }
}
