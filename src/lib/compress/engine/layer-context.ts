import { tapWidth, type BlockTap, type LinearId, type ModelSpec } from '../../model/spec';
import { awqConfig } from '../reference/awq';
import { linearWeight, type LayerTensors } from '../reference/block';
import { groupLayout, type QuantConfig, type QuantizedMatrix } from '../reference/quantizer';
import type { ResolvedSettings } from '../reference/settings';
import type { FactorCache } from '../reference/solver';
import type { Matrix } from '../reference/types';
import type { Kernels, Stats } from './backend';
import { StatsBatcher, TokenSample } from './batchers';
import { checkActivations } from './finite';
import type { DriverProgress, LinearReport } from './report';
import type { BlockRunner } from './runner-types';
import type { Timer } from './timer';

/** Everything a method's strategy needs to compress one decoder layer. */
export interface LayerContext {
  spec: ModelSpec;
  settings: ResolvedSettings;
  kernels: Kernels;
  runner: BlockRunner;
  layer: number;
  seqLen: number;
  hidden: Float32Array[];
  timer: Timer;
  errorTokens: number;
  signal?: AbortSignal;
  /** The layer's tensors; compressed linears replace their dense weights here as they finish. */
  lw: Map<string, Float32Array>;
  linears: LinearReport[];
  quantized: Map<string, QuantizedMatrix>;
  awqClipSampleTokens: number;
  /** The layer's Hessian factors, shared by the linears on one input (GPTQ, SparseGPT). */
  factors: FactorCache;
  onHessian?: (layer: number, linear: LinearId, H: Float32Array) => void;
  progress: (step: DriverProgress['step'], linear: LinearId | undefined, message: string) => void;
}

/**
 * A method's work on one layer: compress its seven linears, return the next layer's inputs.
 * `dataFree`: the weights do not depend on the calibration data (RTN, magnitude), so its block
 * passes feed only the error report.
 */
export type LayerStrategy = ((ctx: LayerContext) => Promise<Float32Array[]>) & { readonly dataFree?: boolean };

export function weightMatrix(ctx: LayerContext, l: LinearId): Matrix {
  return linearWeight(ctx.spec, ctx.lw, l, ctx.layer);
}

export function quantConfig(ctx: LayerContext, cols: number): QuantConfig {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('not a quantization method');
  if (s.method === 'awq') return awqConfig(s.bits, s.groupSize, !s.sym);
  return { bits: s.bits, groupSize: groupLayout(cols, s.groupSize).groupSize, sym: s.sym, variant: 'gptq' };
}

/** A token sample per tap, each holding up to `ctx.errorTokens` rows for the error measurement. */
export function samplesFor(ctx: LayerContext, taps: readonly BlockTap[]): Partial<Record<BlockTap, TokenSample>> {
  const out: Partial<Record<BlockTap, TokenSample>> = {};
  for (const t of taps) out[t] = new TokenSample(tapWidth(ctx.spec, t), Math.min(ctx.errorTokens, ctx.hidden.length * ctx.seqLen));
  return out;
}

export interface PassOptions {
  taps: BlockTap[];
  stats?: Partial<Record<BlockTap, Stats>>;
  samples?: Partial<Record<BlockTap, TokenSample>>;
  until: BlockTap | 'out';
  /** Keep whole activations (AWQ). */
  keep?: Partial<Record<BlockTap, Float32Array>>;
  out?: Float32Array[];
}

/** One block pass over every sample, feeding statistics and error samples, checking activations. */
export async function pass(ctx: LayerContext, lw: LayerTensors, o: PassOptions, message: string): Promise<void> {
  ctx.progress('forward', undefined, message);
  const L = ctx.seqLen;
  const batchers: Partial<Record<BlockTap, StatsBatcher>> = {};
  for (const tap of o.taps) {
    const st = o.stats?.[tap];
    if (st) batchers[tap] = new StatsBatcher(st, tapWidth(ctx.spec, tap), L);
  }
  await ctx.timer.time('forward', () =>
    ctx.runner.run(
      ctx.layer,
      lw,
      ctx.hidden,
      L,
      o.until,
      async (s, out) => {
        for (const tap of o.taps) {
          const x = out[tap];
          if (!x) throw new Error(`block pass gave no ${tap}`);
          checkActivations(ctx.spec, ctx.layer, tap, x, s);
          const cols = tapWidth(ctx.spec, tap);
          o.samples?.[tap]?.add(x, L);
          o.keep?.[tap]?.set(x, s * L * cols);
          const b = batchers[tap];
          if (b) await ctx.timer.time('stats', () => b.add(x));
        }
        if (o.out) {
          if (!out.out) throw new Error('block pass gave no output');
          o.out[s] = out.out;
        }
      },
      ctx.signal,
      [...o.taps, ...(o.out ? (['out'] as const) : [])],
      ctx.timer,
    ),
  );
  for (const b of Object.values(batchers)) await ctx.timer.time('stats', () => b.flush());
}

/** The layer's outputs with its compressed weights: the next layer's inputs. */
export async function forwardCompressed(ctx: LayerContext): Promise<Float32Array[]> {
  ctx.progress('forward', undefined, 'block forward with the compressed weights');
  const next = new Array<Float32Array>(ctx.hidden.length);
  await ctx.timer.time('forward', () =>
    ctx.runner.run(ctx.layer, ctx.lw, ctx.hidden, ctx.seqLen, 'out', (s, o) => void (next[s] = o.out!), ctx.signal, ['out'], ctx.timer),
  );
  return next;
}
