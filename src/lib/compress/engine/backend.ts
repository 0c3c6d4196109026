import { GpuBlockForward } from '../../gpu/block-forward';
import { awqClipGpu } from '../../gpu/clip';
import { GpuDeviceLostError, GpuFaultError, isGpuError } from '../../gpu/faults';
import { gpuRelativeOutputError, outputErrorFits, outputErrorOnDevice } from '../../gpu/output-error';
import { packGpu } from '../../gpu/pack';
import { magnitudeGpu, wandaGpu } from '../../gpu/prune';
import { rtnGpu } from '../../gpu/quant';
import { gptqGpu, sparsegptGpu } from '../../gpu/solver';
import { GpuStatsAccumulator } from '../../gpu/stats';
import { awqClipSearch, type AwqClipOptions } from '../reference/awq';
import { gptq, type GptqOptions, type GptqResult } from '../reference/gptq';
import { relativeOutputError } from '../reference/output-error';
import { magnitude } from '../reference/magnitude';
import { packQuantized, type PackedNBits } from '../reference/pack';
import { quantizeRtn, type QuantConfig, type QuantizedMatrix } from '../reference/quantizer';
import { sparsegpt, type SparseGptOptions, type SparseGptResult } from '../reference/sparsegpt';
import { AbsMeanAccumulator, HessianAccumulator, WandaAccumulator } from '../reference/stats';
import type { Matrix, PruneResult, Sparsity } from '../reference/types';
import { wanda } from '../reference/wanda';
import type { ModelSpec } from '../../model/spec';
import type { BlockRunner } from './runner-types';

/**
 * Where the compression kernels run: the WGSL launchers of `src/lib/gpu` on a `GPUDevice`, or
 * their TypeScript references (the CPU fallback). Both produce the same results (bit for bit on
 * SwiftShader; within the tolerances of `tests/browser/compress/compare.ts` on hardware).
 * Each `…On(kernels, …)` runs one kernel where `kernels` says. The rest of the engine reaches
 * `src/lib/gpu` only through this module.
 */
export type Kernels = { kind: 'webgpu'; device: GPUDevice } | { kind: 'typescript' };

export const TYPESCRIPT_KERNELS: Kernels = { kind: 'typescript' };

export interface StatsOptions {
  hessian: boolean;
  wanda: boolean;
  absMean: boolean;
}

/** Calibration statistics of one linear input (shared by q/k/v and by gate/up). */
export interface Stats {
  readonly cols: number;
  /** Adds one sample X (tokens × cols) of `sequences` sequences. */
  add(X: Matrix, sequences?: number): void;
  hessian(): Promise<Float32Array>;
  wanda(): Promise<Float32Array>;
  absMean(): Promise<Float32Array>;
  destroy(): void;
}

class CpuStats implements Stats {
  private readonly h: HessianAccumulator | null;
  private readonly s: WandaAccumulator | null;
  private readonly a: AbsMeanAccumulator | null;
  constructor(
    readonly cols: number,
    o: StatsOptions,
  ) {
    this.h = o.hessian ? new HessianAccumulator(cols) : null;
    this.s = o.wanda ? new WandaAccumulator(cols) : null;
    this.a = o.absMean ? new AbsMeanAccumulator(cols) : null;
  }
  add(X: Matrix, sequences = 1): void {
    this.h?.add(X, sequences);
    this.s?.add(X, sequences);
    this.a?.add(X);
  }
  async hessian(): Promise<Float32Array> {
    if (!this.h) throw new Error('stats: Hessian not accumulated');
    return this.h.H;
  }
  async wanda(): Promise<Float32Array> {
    if (!this.s) throw new Error('stats: channel norms not accumulated');
    return this.s.s;
  }
  async absMean(): Promise<Float32Array> {
    if (!this.a) throw new Error('stats: mean |x| not accumulated');
    return this.a.mean;
  }
  destroy(): void {}
}

class GpuStats implements Stats {
  private readonly acc: GpuStatsAccumulator;
  constructor(
    device: GPUDevice,
    readonly cols: number,
    o: StatsOptions,
  ) {
    this.acc = new GpuStatsAccumulator(device, cols, { hessian: o.hessian, channels: o.wanda || o.absMean });
  }
  add(X: Matrix, sequences = 1): void {
    this.acc.add(X, sequences);
  }
  hessian(): Promise<Float32Array> {
    return this.acc.readHessian();
  }
  wanda(): Promise<Float32Array> {
    return this.acc.readWanda();
  }
  absMean(): Promise<Float32Array> {
    return this.acc.readAbsMean();
  }
  destroy(): void {
    this.acc.destroy();
  }
}

export function createStats(k: Kernels, cols: number, o: StatsOptions): Stats {
  return k.kind === 'webgpu' ? new GpuStats(k.device, cols, o) : new CpuStats(cols, o);
}

export function quantizeRtnOn(k: Kernels, W: Matrix, cfg: QuantConfig): Promise<QuantizedMatrix> {
  return k.kind === 'webgpu' ? rtnGpu(k.device, W, cfg) : Promise.resolve(quantizeRtn(W, cfg));
}

export function gptqOn(k: Kernels, W: Matrix, H: Float32Array, opts: GptqOptions): Promise<GptqResult> {
  return k.kind === 'webgpu' ? gptqGpu(k.device, W, H, opts) : Promise.resolve(gptq(W, H, opts));
}

export function sparsegptOn(k: Kernels, W: Matrix, H: Float32Array, opts: SparseGptOptions): Promise<SparseGptResult> {
  return k.kind === 'webgpu' ? sparsegptGpu(k.device, W, H, opts) : Promise.resolve(sparsegpt(W, H, opts));
}

export function magnitudeOn(k: Kernels, W: Matrix, sp: Sparsity): Promise<PruneResult> {
  return k.kind === 'webgpu' ? magnitudeGpu(k.device, W, sp) : Promise.resolve(magnitude(W, sp));
}

export function wandaOn(k: Kernels, W: Matrix, s: Float32Array, sp: Sparsity): Promise<PruneResult> {
  return k.kind === 'webgpu' ? wandaGpu(k.device, W, s, sp) : Promise.resolve(wanda(W, s, sp));
}

export function awqClipSearchOn(k: Kernels, W: Matrix, X: Matrix, cfg: QuantConfig, opts?: AwqClipOptions): Promise<Float32Array> {
  return k.kind === 'webgpu' ? awqClipGpu(k.device, W, X, cfg, opts) : Promise.resolve(awqClipSearch(W, X, cfg, opts));
}

export function packOn(k: Kernels, q: QuantizedMatrix): Promise<PackedNBits> {
  return k.kind === 'webgpu' ? packGpu(k.device, q) : Promise.resolve(packQuantized(q));
}

/**
 * The error report's figure: on the device where `prepareDevice` put it (hardware adapters) and
 * its buffers fit, `relativeOutputError` otherwise.
 */
export async function relativeOutputErrorOn(k: Kernels, W: Matrix, What: Matrix, X: Matrix): Promise<number> {
  if (k.kind === 'webgpu' && X.rows > 0 && outputErrorOnDevice(k.device) && outputErrorFits(k.device, X.rows, W.rows, W.cols))
    return gpuRelativeOutputError(k.device, X.data, W.data, What.data, X.rows, W.rows, W.cols);
  return relativeOutputError(W, What, X);
}

/**
 * The WGSL block forward (`gpu/block-forward.ts`) as a block runner, with AWQ's candidate
 * losses on the same device.
 */
export function webGpuBlockRunner(k: Kernels, spec: ModelSpec): BlockRunner {
  if (k.kind !== 'webgpu') throw new Error('the webgpu block forward needs WebGPU kernels (a GPU device)');
  const fwd = new GpuBlockForward(k.device, spec);
  return {
    kind: 'webgpu',
    run: (layer, lw, inputs, seqLen, until, each, signal, want, timer) =>
      fwd.run(layer, lw, inputs, seqLen, until, each, signal, want, timer),
    subBlockLoss: (layer, sub, inputs, samples, seqLen, dense) => fwd.subBlockLoss(layer, sub, inputs, samples, seqLen, dense),
    async dispose() {
      fwd.dispose();
    },
  };
}

/** A GPU fault or lost device raised again with `where` leading its message; any other error as it was. */
export function locateGpuError(err: unknown, where: () => string): unknown {
  if (!isGpuError(err)) return err;
  const message = `${where()}: ${err.message}`;
  return err instanceof GpuFaultError
    ? new GpuFaultError(message, err.kind, { cause: err })
    : new GpuDeviceLostError(message, { cause: err });
}
