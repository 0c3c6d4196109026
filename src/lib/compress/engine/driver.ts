import { GpuDeviceLostError, GpuFaultError, isGpuError } from '../../gpu/faults';
import type { ModelSpec } from '../../model/spec';
import {
  applyClip,
  awqConfig,
  foldIntoNorm,
  foldIntoPreviousLinear,
  scaleColumns,
  searchAwqScales,
  type AwqSearchResult,
} from '../reference/awq';
import { attention, blockForward, linearF32, mlp, TAPS, type BlockOutputs, type LayerTensors, type Tap } from '../reference/block';
import {
  awqClipK,
  createStats,
  gptqK,
  magnitudeK,
  rtnK,
  sparsegptK,
  TYPESCRIPT_KERNELS,
  wandaK,
  type Kernels,
  type Stats,
} from './backend';
import { groupLayout, type QuantConfig, type QuantizedMatrix } from '../reference/quantizer';
import { resolveSettings, type CompressSettings, type ResolvedSettings } from '../reference/settings';
import type { SolverReport } from '../reference/solver';
import { checkStructure, type StructureSpec } from '../reference/structure';
import { f32, matrix, type Matrix } from '../reference/types';

/**
 * The calibration driver (compression-spec.md, architecture.md "Compression"): layer-0 inputs
 * captured once from the embedding, then per decoder layer: run the block on every calibration
 * sample, accumulate the statistics its method needs, compress the seven linears in the order
 * the method prescribes, re-run the block with the compressed weights for the next layer's
 * inputs (AWQ: the dense outputs). Only the current layer's weights and the activations are
 * resident; every finished layer goes to `onLayer` and is dropped.
 *
 * Kernels (statistics, quantizers, masks, GPTQ/SparseGPT loops, AWQ clip search) run on the
 * GPU when `kernels` holds a device, on their TypeScript references otherwise. The block forward
 * is the TypeScript one of `block.ts` or a one-block ONNX graph in onnxruntime-web
 * (`forward: 'ort-wasm' | 'ort-webgpu'`); AWQ's candidate losses always use the TypeScript
 * attention / MLP sub-blocks.
 */

export const LINEARS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearId = (typeof LINEARS)[number];

const MODULE: Record<LinearId, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

/** The block output that carries each linear's input. */
export const TAP_OF: Record<LinearId, Tap> = {
  q_proj: 'q_proj_in',
  k_proj: 'q_proj_in',
  v_proj: 'q_proj_in',
  o_proj: 'o_proj_in',
  gate_proj: 'gate_proj_in',
  up_proj: 'gate_proj_in',
  down_proj: 'down_proj_in',
};

/** GPTQ's true-sequential order for Llama (AutoGPTQ `inside_layer_modules`). */
export const TRUE_SEQUENTIAL: LinearId[][] = [['k_proj', 'v_proj', 'q_proj'], ['o_proj'], ['up_proj', 'gate_proj'], ['down_proj']];

export function weightName(l: LinearId): string {
  return `${MODULE[l]}.weight`;
}

export function layerPrefix(i: number): string {
  return `model.layers.${i}.`;
}

/** Tensors of a checkpoint, read one decoder layer at a time. */
export interface LayerSource {
  /** Decoder layer `i`, keyed without the `model.layers.{i}.` prefix (as `WeightStore.layer`). */
  layer(i: number): Promise<Map<string, Float32Array>>;
  /** Any tensor by its full name (the embedding for the layer-0 inputs). */
  tensor(name: string): Promise<Float32Array>;
}

/** A `LayerSource` over tensors already in memory (random models, tests). */
export function mapSource(weights: ReadonlyMap<string, Float32Array>): LayerSource {
  return {
    async layer(i) {
      const p = layerPrefix(i);
      const out = new Map<string, Float32Array>();
      for (const [name, v] of weights) if (name.startsWith(p)) out.set(name.slice(p.length), v.slice());
      if (out.size === 0) throw new Error(`no tensors for layer ${i}`);
      return out;
    },
    async tensor(name) {
      const v = weights.get(name);
      if (!v) throw new Error(`missing tensor ${name}`);
      return v;
    },
  };
}

export type ForwardKind = 'typescript' | 'ort-wasm' | 'ort-webgpu';

/** Runs one decoder layer over every calibration sample. */
export interface BlockRunner {
  readonly kind: ForwardKind;
  /**
   * Layer `layer` with tensors `lw` on each sample's hidden states ([L, hidden]); `each` gets
   * at least the outputs up to `until` (a runner may compute more).
   */
  run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: Tap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<void>;
  dispose(): Promise<void>;
}

export class TypeScriptBlockRunner implements BlockRunner {
  readonly kind = 'typescript' as const;
  constructor(private readonly spec: ModelSpec) {}
  async run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: Tap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    for (let s = 0; s < inputs.length; s++) {
      signal?.throwIfAborted();
      await each(s, blockForward(this.spec, layer, lw, inputs[s], seqLen, until));
      // Let progress events and cancellation through on long passes.
      if (s % 8 === 7) await yieldToEventLoop();
    }
  }
  async dispose(): Promise<void> {}
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** A weight or activation that is NaN or infinite, named so the user can find it. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export interface DriverProgress {
  phase: 'capture' | 'layer' | 'done';
  layer?: number;
  layers: number;
  /** What the layer is doing: a block pass over the samples, a scale search, a linear's kernel. */
  step?: 'forward' | 'compress' | 'awq-search' | 'awq-clip';
  linear?: LinearId;
  /** Linears of this layer already compressed. */
  linearsDone?: number;
  /** Overall fraction done, 0…1 (layers weigh equally). */
  fraction: number;
  message: string;
}

export interface LinearReport {
  /** Full tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  layer: number;
  linear: LinearId;
  /** [out, in]. */
  shape: [number, number];
  /** ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² on calibration inputs (AWQ: in the scaled coordinates the layer runs in). */
  error: number;
  /** Tokens the error was measured on. */
  errorTokens: number;
  /** Fraction of exact zeros. */
  zeros: number;
  /** Quantized: the most distinct values in one (row, group) (≤ 2^bits). */
  maxDistinct?: number;
  /** Null when the structure promised by the method holds (N:M, ratio, ≤ 2^bits per group). */
  structureProblem: string | null;
  /** Effective quantization group (clipped to the width); 0 for pruning. */
  groupSize: number;
  /** GPTQ / SparseGPT prologue: damping used, retries, dead input channels. */
  solver?: { percdamp: number; damp: number; retries: number; deadColumns: number; actOrder: boolean };
  /** AWQ: the scale search that scaled this linear's inputs, and the share of groups the clip search clipped. */
  awq?: { search: string; ratio: number; loss: number; fallback: boolean; clippedGroups?: number };
  ms: number;
}

export interface LayerOutput {
  layer: number;
  /** Every tensor of the layer, full names: compressed linears, and norms (AWQ folds scales into them). */
  tensors: Map<string, Float32Array>;
  /** Codes / scales / zero points of each quantized linear (full weight name), for packing. */
  quantized: Map<string, QuantizedMatrix>;
  linears: LinearReport[];
}

export interface LayerTiming {
  layer: number;
  ms: number;
  /** Milliseconds per phase within the layer. */
  phases: Record<string, number>;
}

export interface DriverOptions {
  spec: ModelSpec;
  source: LayerSource;
  /** Token ids: every sample the same length (the calibration sequence length). */
  calibration: readonly (readonly number[])[];
  settings: CompressSettings;
  /** Default: the TypeScript references. */
  kernels?: Kernels;
  /** Default `typescript`. */
  forward?: ForwardKind | BlockRunner;
  signal?: AbortSignal;
  onProgress?: (p: DriverProgress) => void;
  /** Receives each finished layer (awaited before the next starts). */
  onLayer?: (out: LayerOutput) => void | Promise<void>;
  /** Compress only the first N layers (benchmarks); default all. */
  layers?: number;
  /** Tokens of each linear's input kept to measure its reconstruction error (default 1024). */
  errorTokens?: number;
  /** AWQ clip search: tokens sampled every ⌊T/n⌋ (default 512, llm-awq's n_sample_token). */
  awqClipSampleTokens?: number;
  /** Test hook: sees (and may change) every Hessian before GPTQ / SparseGPT factor it. */
  onHessian?: (layer: number, linear: LinearId, H: Float32Array) => void;
}

export interface DriverResult {
  settings: ResolvedSettings;
  kernels: Kernels['kind'];
  forward: ForwardKind;
  samples: number;
  seqLen: number;
  layers: LayerTiming[];
  linears: LinearReport[];
  /** Sum of GPTQ / SparseGPT damping retries over all linears. */
  dampRetries: number;
  timings: { captureMs: number; layersMs: number; totalMs: number; phases: Record<string, number> };
}

/** Runs a block runner by kind; ORT ones are loaded on demand (they pull in onnxruntime-web). */
export async function createBlockRunner(kind: ForwardKind, spec: ModelSpec): Promise<BlockRunner> {
  if (kind === 'typescript') return new TypeScriptBlockRunner(spec);
  const { OrtBlockRunner } = await import('./ort-block');
  return new OrtBlockRunner(spec, kind === 'ort-webgpu' ? 'webgpu' : 'wasm');
}

/** Keeps the first `max` tokens of one block output across samples (the error measurement set). */
class TokenSample {
  rows = 0;
  readonly data: Float32Array;
  constructor(
    readonly cols: number,
    readonly max: number,
  ) {
    this.data = new Float32Array(cols * max);
  }
  add(x: Float32Array, tokens: number): void {
    const take = Math.min(tokens, this.max - this.rows);
    if (take <= 0) return;
    this.data.set(x.subarray(0, take * this.cols), this.rows * this.cols);
    this.rows += take;
  }
  matrix(): Matrix {
    return matrix(this.rows, this.cols, this.data.subarray(0, this.rows * this.cols));
  }
}

/** ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖², with the register-blocked linear and double sums. */
export function relativeOutputError(W: Matrix, What: Matrix, X: Matrix): number {
  if (X.rows === 0) return NaN;
  const D = new Float32Array(W.data.length);
  for (let i = 0; i < D.length; i++) D[i] = W.data[i] - What.data[i];
  const yd = linearF32(X.data, D, X.rows, W.cols, W.rows);
  const y = linearF32(X.data, W.data, X.rows, W.cols, W.rows);
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num += yd[i] * yd[i];
    den += y[i] * y[i];
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : num / den;
}

class Timer {
  readonly phases: Record<string, number> = {};
  timeSync<T>(phase: string, work: () => T): T {
    const t0 = performance.now();
    try {
      return work();
    } finally {
      this.phases[phase] = (this.phases[phase] ?? 0) + performance.now() - t0;
    }
  }
  async time<T>(phase: string, work: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.phases[phase] = (this.phases[phase] ?? 0) + performance.now() - t0;
    }
  }
}

function tapWidth(spec: ModelSpec, tap: Tap): number {
  return tap === 'o_proj_in' ? spec.numHeads * spec.headDim : tap === 'down_proj_in' ? spec.intermediateSize : spec.hiddenSize;
}

/** Compresses a model's decoder layers from calibration token ids. */
export async function compressLayers(opts: DriverOptions): Promise<DriverResult> {
  const t0 = performance.now();
  const { spec, source, signal } = opts;
  const settings = resolveSettings(opts.settings);
  const kernels = opts.kernels ?? TYPESCRIPT_KERNELS;
  const nLayers = Math.min(spec.numLayers, opts.layers ?? spec.numLayers);
  const N = opts.calibration.length;
  if (N === 0) throw new Error('calibration needs at least one sample');
  const L = opts.calibration[0].length;
  if (L < 2) throw new Error('calibration samples need at least two tokens');
  if (opts.calibration.some((s) => s.length !== L)) throw new Error('calibration samples must all have the same length');
  if (L > spec.maxPositions) throw new Error(`calibration samples of ${L} tokens exceed the context of ${spec.maxPositions}`);
  const runner = typeof opts.forward === 'object' ? opts.forward : await createBlockRunner(opts.forward ?? 'typescript', spec);
  const ownsRunner = typeof opts.forward !== 'object';
  const errorTokens = Math.max(1, opts.errorTokens ?? 1024);
  const H = spec.hiddenSize;
  const progress = (p: Omit<DriverProgress, 'layers'>) => opts.onProgress?.({ ...p, layers: nLayers });
  const allPhases: Record<string, number> = {};
  const layers: LayerTiming[] = [];
  const linears: LinearReport[] = [];

  try {
    // Layer-0 inputs: embedding rows of every calibration token.
    progress({ phase: 'capture', fraction: 0, message: `embedding ${N} × ${L} calibration tokens` });
    const captureStart = performance.now();
    let hidden: Float32Array[];
    {
      const embed = await source.tensor('model.embed_tokens.weight');
      if (embed.length !== spec.vocabSize * H) throw new Error(`model.embed_tokens.weight: expected ${spec.vocabSize * H} values`);
      hidden = opts.calibration.map((ids, s) => {
        const x = new Float32Array(L * H);
        ids.forEach((id, t) => {
          if (!(Number.isInteger(id) && id >= 0 && id < spec.vocabSize))
            throw new Error(`calibration sample ${s} holds token id ${id}, outside the vocabulary of ${spec.vocabSize}`);
          const row = embed.subarray(id * H, (id + 1) * H);
          const bad = firstNonFinite(row);
          if (bad >= 0)
            throw new NonFiniteError(
              `model.embed_tokens.weight holds ${row[bad]} in the row of token ${id} (element ${bad}), used by calibration sample ${s}`,
            );
          x.set(row, t * H);
        });
        return x;
      });
    }
    const captureMs = performance.now() - captureStart;

    const layersStart = performance.now();
    // What the layer was doing when a GPU error surfaced, so the message can say where.
    let at: { layer: number; step?: DriverProgress['step']; linear?: LinearId } = { layer: 0 };
    for (let i = 0; i < nLayers; i++) {
      at = { layer: i };
      try {
        signal?.throwIfAborted();
        const layerStart = performance.now();
        const timer = new Timer();
        const lw = await timer.time('read', () => source.layer(i));
        for (const [name, v] of lw) {
          const bad = firstNonFinite(v);
          if (bad >= 0)
            throw new NonFiniteError(
              `layer ${i}: ${layerPrefix(i)}${name} holds ${v[bad]} at element ${bad}; the checkpoint is corrupt, refusing to compress it`,
            );
        }
        hidden.forEach((x, s) => {
          const bad = firstNonFinite(x);
          if (bad >= 0)
            throw new NonFiniteError(
              `layer ${i}: the calibration hidden states entering the layer hold ${x[bad]} (sample ${s}, token ${Math.floor(bad / H)}, channel ${bad % H})${i > 0 ? `: layer ${i - 1} overflowed on this calibration batch` : ''}`,
            );
        });
        const ctx: LayerContext = {
          spec,
          settings,
          kernels,
          runner,
          layer: i,
          seqLen: L,
          hidden,
          timer,
          errorTokens,
          signal,
          lw,
          linears: [],
          quantized: new Map(),
          awqClipSampleTokens: opts.awqClipSampleTokens ?? 512,
          onHessian: opts.onHessian,
          progress: (step, linear, message) => {
            at = { layer: i, step, linear };
            progress({
              phase: 'layer',
              layer: i,
              step,
              linear,
              linearsDone: ctx.linears.length,
              fraction: (i + ctx.linears.length / LINEARS.length) / nLayers,
              message: `layer ${i + 1}/${nLayers}: ${message}`,
            });
          },
        };
        let next: Float32Array[];
        if (settings.method === 'awq') next = await awqLayer(ctx);
        else {
          if (settings.method === 'gptq') await gptqLayer(ctx);
          else await oneShotLayer(ctx);
          ctx.progress('forward', undefined, 'block forward with the compressed weights');
          next = new Array<Float32Array>(N);
          await timer.time('forward', () => runner.run(i, lw, hidden, L, 'out', (s, o) => void (next[s] = o.out!), signal));
        }
        hidden = next;
        const tensors = new Map<string, Float32Array>();
        for (const [name, v] of lw) tensors.set(`${layerPrefix(i)}${name}`, v);
        linears.push(...ctx.linears);
        at = { layer: i, step: undefined, linear: undefined };
        await timer.time('store', () => opts.onLayer?.({ layer: i, tensors, quantized: ctx.quantized, linears: ctx.linears }));
        const ms = performance.now() - layerStart;
        layers.push({ layer: i, ms, phases: timer.phases });
        for (const [k, v] of Object.entries(timer.phases)) allPhases[k] = (allPhases[k] ?? 0) + v;
        progress({
          phase: 'layer',
          layer: i,
          linearsDone: LINEARS.length,
          fraction: (i + 1) / nLayers,
          message: `layer ${i + 1}/${nLayers} done in ${(ms / 1000).toFixed(1)} s`,
        });
      } catch (err) {
        throw isGpuError(err) ? locateGpuError(err, at) : err;
      }
    }
    const layersMs = performance.now() - layersStart;
    progress({ phase: 'done', fraction: 1, message: 'all layers compressed' });
    return {
      settings,
      kernels: kernels.kind,
      forward: runner.kind,
      samples: N,
      seqLen: L,
      layers,
      linears,
      dampRetries: linears.reduce((s, l) => s + (l.solver?.retries ?? 0), 0),
      timings: { captureMs, layersMs, totalMs: performance.now() - t0, phases: allPhases },
    };
  } finally {
    if (ownsRunner) await runner.dispose();
  }
}

/** The same GPU error, its message led by the layer and linear (or step) it struck. */
function locateGpuError(
  err: GpuFaultError | GpuDeviceLostError,
  at: { layer: number; step?: DriverProgress['step']; linear?: LinearId },
): Error {
  const where = at.linear
    ? `${layerPrefix(at.layer)}${MODULE[at.linear]}`
    : at.step === 'forward' || at.step === undefined
      ? 'its block pass, statistics or storage'
      : `its ${at.step} step`;
  const message = `layer ${at.layer}, ${where}: ${err.message}`;
  return err instanceof GpuFaultError
    ? new GpuFaultError(message, err.kind, { cause: err })
    : new GpuDeviceLostError(message, { cause: err });
}

interface LayerContext {
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
  onHessian?: (layer: number, linear: LinearId, H: Float32Array) => void;
  progress: (step: DriverProgress['step'], linear: LinearId | undefined, message: string) => void;
}

function weightMatrix(ctx: LayerContext, l: LinearId): Matrix {
  const w = ctx.lw.get(weightName(l));
  if (!w) throw new Error(`layer ${ctx.layer}: missing ${weightName(l)}`);
  const cols = tapWidth(ctx.spec, TAP_OF[l]);
  return matrix(w.length / cols, cols, w);
}

/** Checks a block output used as calibration input; names the layer, the linear and the sample. */
function checkActivations(ctx: LayerContext, tap: Tap, x: Float32Array, sample: number): void {
  const bad = firstNonFinite(x);
  if (bad < 0) return;
  const cols = tapWidth(ctx.spec, tap);
  const consumers = (Object.keys(TAP_OF) as LinearId[]).filter((l) => TAP_OF[l] === tap).join('/');
  throw new NonFiniteError(
    `layer ${ctx.layer}: the calibration activations entering ${consumers} hold ${x[bad]} (sample ${sample}, token ${Math.floor(bad / cols)}, channel ${bad % cols}); a weight of layer ${ctx.layer} or an earlier layer overflows on this calibration batch`,
  );
}

/** Statistics that overflowed fp32 although every activation was finite. */
function checkStatistic(ctx: LayerContext, what: string, tap: Tap, v: Float32Array): Float32Array {
  const bad = firstNonFinite(v);
  if (bad < 0) return v;
  const consumers = (Object.keys(TAP_OF) as LinearId[]).filter((l) => TAP_OF[l] === tap).join('/');
  let peak = 0;
  for (const x of v) if (Number.isFinite(x)) peak = Math.max(peak, Math.abs(x));
  throw new NonFiniteError(
    `layer ${ctx.layer}: the ${what} of the calibration activations entering ${consumers} overflowed fp32 (${v[bad]} at element ${bad}; largest finite entry ${peak.toExponential(2)}); a weight of layer ${ctx.layer} or an earlier layer is far too large for this calibration batch`,
  );
}

/** Bytes of one tap's activations gathered before they go to its statistics in one batch. */
const STATS_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Gathers whole samples of one tap and hands them to the statistics in batches (`add` with
 * `sequences` = samples in the batch, the running mean of the reference's `add_batch` with a
 * batch of that many sequences): one upload and one GEMM per batch instead of per sample.
 */
class StatsBatcher {
  private readonly buf: Float32Array;
  private samples = 0;
  private readonly perSample: number;
  private readonly capacity: number;
  constructor(
    private readonly stats: Stats,
    private readonly cols: number,
    private readonly tokens: number,
  ) {
    this.perSample = tokens * cols;
    this.capacity = Math.max(1, Math.floor(STATS_BATCH_BYTES / (4 * this.perSample)));
    this.buf = new Float32Array(this.capacity * this.perSample);
  }
  add(x: Float32Array): void {
    this.buf.set(x.subarray(0, this.perSample), this.samples * this.perSample);
    if (++this.samples === this.capacity) this.flush();
  }
  flush(): void {
    if (this.samples === 0) return;
    this.stats.add(matrix(this.samples * this.tokens, this.cols, this.buf.subarray(0, this.samples * this.perSample)), this.samples);
    this.samples = 0;
  }
}

interface PassOptions {
  taps: Tap[];
  stats?: Partial<Record<Tap, Stats>>;
  samples?: Partial<Record<Tap, TokenSample>>;
  until: Tap | 'out';
  /** Keep whole activations (AWQ). */
  keep?: Partial<Record<Tap, Float32Array>>;
  out?: Float32Array[];
}

/** One block pass over every sample, feeding statistics and error samples, checking activations. */
async function pass(ctx: LayerContext, lw: LayerTensors, o: PassOptions, message: string): Promise<void> {
  ctx.progress('forward', undefined, message);
  const L = ctx.seqLen;
  const batchers: Partial<Record<Tap, StatsBatcher>> = {};
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
          checkActivations(ctx, tap, x, s);
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
    ),
  );
  for (const b of Object.values(batchers)) await ctx.timer.time('stats', () => b.flush());
}

function quantConfig(ctx: LayerContext, cols: number): QuantConfig {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('not a quantization method');
  if (s.method === 'awq') return awqConfig(s.bits, s.groupSize, !s.sym);
  return { bits: s.bits, groupSize: groupLayout(cols, s.groupSize).groupSize, sym: s.sym, variant: 'gptq' };
}

function structureSpec(ctx: LayerContext, cols: number, gIdx?: Int32Array): StructureSpec {
  const s = ctx.settings;
  return 'bits' in s
    ? { kind: 'quant', bits: s.bits, groupSize: groupLayout(cols, s.groupSize).groupSize, gIdx }
    : { kind: 'prune', sparsity: s.sparsity };
}

/** Records a compressed linear: swaps it into the layer, checks its structure, measures its error. */
function finishLinear(
  ctx: LayerContext,
  l: LinearId,
  dense: Matrix,
  compressed: Matrix,
  X: Matrix,
  started: number,
  extra: { q?: QuantizedMatrix; solver?: SolverReport; awq?: LinearReport['awq'] } = {},
): void {
  const name = `${layerPrefix(ctx.layer)}${weightName(l)}`;
  const bad = firstNonFinite(compressed.data);
  if (bad >= 0) throw new NonFiniteError(`layer ${ctx.layer}: compressing ${l} produced ${compressed.data[bad]} at element ${bad}`);
  const st = ctx.timer.timeSync('check', () => checkStructure(compressed, structureSpec(ctx, dense.cols, extra.q?.gIdx)));
  const error = ctx.timer.timeSync('error', () => relativeOutputError(dense, compressed, X));
  const s = ctx.settings;
  ctx.lw.set(weightName(l), compressed.data);
  if (extra.q) ctx.quantized.set(name, extra.q);
  ctx.linears.push({
    name,
    layer: ctx.layer,
    linear: l,
    shape: [dense.rows, dense.cols],
    error,
    errorTokens: X.rows,
    zeros: st.zeros,
    ...(st.maxDistinct !== undefined ? { maxDistinct: st.maxDistinct } : {}),
    structureProblem: st.problem,
    groupSize: 'bits' in s ? groupLayout(dense.cols, s.groupSize).groupSize : 0,
    ...(extra.solver
      ? {
          solver: {
            percdamp: extra.solver.percdamp,
            damp: extra.solver.damp,
            retries: extra.solver.retries,
            deadColumns: extra.solver.deadColumns,
            actOrder: extra.solver.perm !== null,
          },
        }
      : {}),
    ...(extra.awq ? { awq: extra.awq } : {}),
    ms: performance.now() - started,
  });
}

function samplesFor(ctx: LayerContext, taps: readonly Tap[]): Partial<Record<Tap, TokenSample>> {
  const out: Partial<Record<Tap, TokenSample>> = {};
  for (const t of taps) out[t] = new TokenSample(tapWidth(ctx.spec, t), Math.min(ctx.errorTokens, ctx.hidden.length * ctx.seqLen));
  return out;
}

/** RTN, magnitude, Wanda, SparseGPT: one pass for every linear's statistics, then all seven. */
async function oneShotLayer(ctx: LayerContext): Promise<void> {
  const s = ctx.settings;
  const needH = s.method === 'sparsegpt';
  const needWanda = s.method === 'wanda';
  const stats: Partial<Record<Tap, Stats>> = {};
  if (needH || needWanda) {
    for (const t of TAPS) stats[t] = createStats(ctx.kernels, tapWidth(ctx.spec, t), { hessian: needH, wanda: needWanda, absMean: false });
  }
  const samples = samplesFor(ctx, TAPS);
  try {
    await pass(ctx, ctx.lw, { taps: [...TAPS], stats, samples, until: 'down_proj_in' }, 'block forward for calibration statistics');
    const cache = new Map<Tap, Float32Array>();
    const stat = async (t: Tap, read: (st: Stats) => Promise<Float32Array>) => {
      let v = cache.get(t);
      if (!v)
        cache.set(
          t,
          (v = checkStatistic(ctx, needH ? 'Hessian' : 'channel norms', t, await ctx.timer.time('stats', () => read(stats[t]!)))),
        );
      return v;
    };
    for (const l of LINEARS) {
      ctx.signal?.throwIfAborted();
      ctx.progress('compress', l, `${s.method} ${l}`);
      const started = performance.now();
      const W = weightMatrix(ctx, l);
      const tap = TAP_OF[l];
      const X = samples[tap]!.matrix();
      if ('bits' in s) {
        const q = await ctx.timer.time('compress', () => rtnK(ctx.kernels, W, quantConfig(ctx, W.cols)));
        finishLinear(ctx, l, W, q.weight, X, started, { q });
      } else if (s.method === 'magnitude') {
        const r = await ctx.timer.time('compress', () => magnitudeK(ctx.kernels, W, s.sparsity));
        finishLinear(ctx, l, W, r.weight, X, started);
      } else if (s.method === 'wanda') {
        const norms = await stat(tap, (st) => st.wanda());
        const r = await ctx.timer.time('compress', () => wandaK(ctx.kernels, W, norms, s.sparsity));
        finishLinear(ctx, l, W, r.weight, X, started);
      } else {
        const Hm = await stat(tap, (st) => st.hessian());
        const H = Hm.slice();
        ctx.onHessian?.(ctx.layer, l, H);
        const r = await ctx.timer.time('compress', () =>
          sparsegptK(ctx.kernels, W, H, { sparsity: s.sparsity, percdamp: s.percdamp, blockSize: s.blockSize }),
        );
        finishLinear(ctx, l, W, r.weight, X, started, { solver: r.report });
      }
    }
  } finally {
    for (const st of Object.values(stats)) st?.destroy();
  }
}

/** GPTQ, true-sequential: each group's Hessian comes from a pass with the earlier groups already quantized. */
async function gptqLayer(ctx: LayerContext): Promise<void> {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('gptq needs bits');
  for (const group of TRUE_SEQUENTIAL) {
    const tap = TAP_OF[group[0]];
    const stats = createStats(ctx.kernels, tapWidth(ctx.spec, tap), { hessian: true, wanda: false, absMean: false });
    try {
      const samples = samplesFor(ctx, [tap]);
      await pass(
        ctx,
        ctx.lw,
        { taps: [tap], stats: { [tap]: stats }, samples, until: tap },
        `block forward for the Hessian of ${group.join('/')}`,
      );
      const Hsum = checkStatistic(ctx, 'Hessian', tap, await ctx.timer.time('stats', () => stats.hessian()));
      for (const l of group) {
        ctx.signal?.throwIfAborted();
        ctx.progress('compress', l, `GPTQ ${l}`);
        const started = performance.now();
        const W = weightMatrix(ctx, l);
        const H = Hsum.slice();
        ctx.onHessian?.(ctx.layer, l, H);
        const r = await ctx.timer.time('compress', () =>
          gptqK(ctx.kernels, W, H, {
            bits: s.bits,
            groupSize: groupLayout(W.cols, s.groupSize).groupSize,
            sym: s.sym,
            actOrder: s.actOrder,
            percdamp: s.percdamp,
            blockSize: s.blockSize,
          }),
        );
        finishLinear(ctx, l, W, r.weight, samples[tap]!.matrix(), started, { q: r, solver: r.report });
      }
    } finally {
      stats.destroy();
    }
  }
}

/** Divides the columns of row-major X [rows, s.length] by s, in place. */
function divideColumns(X: Float32Array, s: Float32Array): void {
  const c = s.length;
  for (let i = 0; i < X.length; i++) X[i] = f32(X[i] / s[i % c]);
}

/**
 * AWQ per layer (llm-awq `auto_scale_block`, `apply_scale`, `auto_clip_block`): one dense pass
 * keeps every linear's input; four scale searches on the dense weights; scales folded into the
 * norms and previous linears (inputs divided accordingly); clip search for all but q and k;
 * then every linear quantized. The next layer sees the dense outputs.
 */
async function awqLayer(ctx: LayerContext): Promise<Float32Array[]> {
  const s = ctx.settings;
  if (!('bits' in s)) throw new Error('awq needs bits');
  const { spec } = ctx;
  const L = ctx.seqLen;
  const N = ctx.hidden.length;
  const Hd = spec.hiddenSize;
  const keep: Partial<Record<Tap, Float32Array>> = {};
  for (const t of TAPS) keep[t] = new Float32Array(N * L * tapWidth(spec, t));
  const stats: Partial<Record<Tap, Stats>> = {};
  for (const t of TAPS) stats[t] = createStats(ctx.kernels, tapWidth(spec, t), { hessian: false, wanda: false, absMean: true });
  const next: Float32Array[] = new Array(N);
  const xMean: Partial<Record<Tap, Float32Array>> = {};
  try {
    await pass(ctx, ctx.lw, { taps: [...TAPS], stats, until: 'out', keep, out: next }, 'dense block forward (inputs of every linear)');
    for (const t of TAPS) xMean[t] = checkStatistic(ctx, 'mean |x|', t, (await ctx.timer.time('stats', () => stats[t]!.absMean())).slice());
  } finally {
    for (const st of Object.values(stats)) st?.destroy();
  }
  const X = (t: Tap) => keep[t]!;
  const dense = new Map(ctx.lw);
  const W = (l: LinearId) => weightMatrix(ctx, l);
  const cfgFor = (cols: number) => quantConfig(ctx, cols);
  const sample = (t: Tap, n: number) => X(t).subarray(n * L * tapWidth(spec, t), (n + 1) * L * tapWidth(spec, t));

  /** The search candidate Q(W·diag s)·diag s⁻¹ on the chosen kernels. */
  const candidate = async (Wm: Matrix, sc: Float32Array): Promise<Float32Array> => {
    const q = (await rtnK(ctx.kernels, scaleColumns(Wm, sc), cfgFor(Wm.cols))).weight.data;
    for (let r = 0; r < Wm.rows; r++) for (let j = 0; j < Wm.cols; j++) q[r * Wm.cols + j] = f32(q[r * Wm.cols + j] / sc[j]);
    return q;
  };
  const mse = (a: Float32Array, b: Float32Array) => {
    let e = 0;
    for (let i = 0; i < a.length; i++) {
      const d = f32(a[i] - b[i]);
      e += d * d;
    }
    return e;
  };
  const searches: { name: string; result: AwqSearchResult; linears: LinearId[] }[] = [];
  const search = async (name: string, linears: LinearId[], tap: Tap, out: (lw: LayerTensors, n: number) => Float32Array) => {
    ctx.signal?.throwIfAborted();
    ctx.progress('awq-search', linears[0], `AWQ scale search ${name}`);
    const targets = Array.from({ length: N }, (_, n) => out(dense, n));
    const total = targets.reduce((a, t) => a + t.length, 0);
    const result = await ctx.timer.time('awq-search', () =>
      searchAwqScales(xMean[tap]!, async (sc) => {
        ctx.signal?.throwIfAborted();
        const lw = new Map(dense);
        for (const l of linears) lw.set(weightName(l), await candidate(W(l), sc));
        let e = 0;
        for (let n = 0; n < N; n++) e += mse(out(lw, n), targets[n]);
        return e / total;
      }),
    );
    searches.push({ name, result, linears });
    return result.scales;
  };

  const { norms, normOffset } = spec.block;
  // 1. the norm feeding q, k, v (loss on the attention output).
  const s1 = await search(
    `${norms.attnIn}→q/k/v`,
    ['q_proj', 'k_proj', 'v_proj'],
    'q_proj_in',
    (lw, n) => attention(spec, ctx.layer, lw, sample('q_proj_in', n), L).out!,
  );
  // 2. v_proj → o_proj, only when the shapes match (skipped under GQA).
  const vShape = [spec.numKvHeads * spec.headDim, Hd];
  const oShape = [Hd, spec.numHeads * spec.headDim];
  const s2 =
    vShape[0] === oShape[0] && vShape[1] === oShape[1]
      ? await search('v_proj→o_proj', ['o_proj'], 'o_proj_in', (lw, n) =>
          linearF32(sample('o_proj_in', n), lw.get(weightName('o_proj'))!, L, oShape[1], Hd),
        )
      : null;
  // 3. the norm feeding gate, up (loss on the MLP output); Gemma's post-attention norm feeds nothing scaled.
  const s3 = await search(
    `${norms.mlpIn}→gate/up`,
    ['gate_proj', 'up_proj'],
    'gate_proj_in',
    (lw, n) => mlp(spec, lw, sample('gate_proj_in', n), L).out!,
  );
  // 4. up_proj → down_proj.
  const I = spec.intermediateSize;
  const s4 = await search('up_proj→down_proj', ['down_proj'], 'down_proj_in', (lw, n) =>
    linearF32(sample('down_proj_in', n), lw.get(weightName('down_proj'))!, L, I, Hd),
  );

  // Fold the scales (apply_scale): norms / previous linears ÷ s, the scaled linears' columns × s, inputs ÷ s.
  await ctx.timer.time('awq-fold', () => {
    const setW = (l: LinearId, m: Matrix) => ctx.lw.set(weightName(l), m.data);
    const fold = (norm: string, sc: Float32Array) =>
      ctx.lw.set(`${norm}.weight`, foldIntoNorm(ctx.lw.get(`${norm}.weight`)!, sc, normOffset));
    fold(norms.attnIn, s1);
    // A q/k/v bias is added after the scaled matmul and does not change.
    for (const l of ['q_proj', 'k_proj', 'v_proj'] as const) setW(l, scaleColumns(W(l), s1));
    divideColumns(X('q_proj_in'), s1);
    if (s2) {
      const v = foldIntoPreviousLinear(W('v_proj'), s2, ctx.lw.get('self_attn.v_proj.bias'));
      setW('v_proj', v.weight);
      if (v.bias) ctx.lw.set('self_attn.v_proj.bias', v.bias);
      setW('o_proj', scaleColumns(W('o_proj'), s2));
      divideColumns(X('o_proj_in'), s2);
    }
    fold(norms.mlpIn, s3);
    for (const l of ['gate_proj', 'up_proj'] as const) setW(l, scaleColumns(W(l), s3));
    divideColumns(X('gate_proj_in'), s3);
    setW('up_proj', foldIntoPreviousLinear(W('up_proj'), s4).weight);
    setW('down_proj', scaleColumns(W('down_proj'), s4));
    divideColumns(X('down_proj_in'), s4);
  });

  const searchOf = (l: LinearId) => searches.find((x) => x.linears.includes(l));
  for (const l of LINEARS) {
    ctx.signal?.throwIfAborted();
    const started = performance.now();
    const Ws = W(l); // scaled, not yet clipped or quantized
    const tap = TAP_OF[l];
    const cols = tapWidth(spec, tap);
    const Xm = matrix(N * L, cols, X(tap));
    const cfg = cfgFor(cols);
    let toQuantize = Ws;
    let clippedGroups: number | undefined;
    if (l !== 'q_proj' && l !== 'k_proj') {
      ctx.progress('awq-clip', l, `AWQ clip search ${l}`);
      const maxVal = await ctx.timer.time('awq-clip', () => awqClipK(ctx.kernels, Ws, Xm, cfg, { sampleTokens: ctx.awqClipSampleTokens }));
      toQuantize = applyClip(Ws, maxVal, cfg.groupSize);
      const { groups, groupSize } = groupLayout(cols, cfg.groupSize);
      let clipped = 0;
      for (let r = 0; r < Ws.rows; r++) {
        for (let g = 0; g < groups; g++) {
          let m0 = 0;
          for (let j = g * groupSize; j < Math.min(cols, (g + 1) * groupSize); j++) m0 = Math.max(m0, Math.abs(Ws.data[r * cols + j]));
          if (maxVal[r * groups + g] < m0) clipped++;
        }
      }
      clippedGroups = clipped / (Ws.rows * groups);
    }
    ctx.progress('compress', l, `AWQ quantize ${l}`);
    const q = await ctx.timer.time('compress', () => rtnK(ctx.kernels, toQuantize, cfg));
    const sr = searchOf(l);
    const errX = matrix(Math.min(ctx.errorTokens, N * L), cols, X(tap).subarray(0, Math.min(ctx.errorTokens, N * L) * cols));
    finishLinear(ctx, l, Ws, q.weight, errX, started, {
      q,
      awq: {
        search: sr?.name ?? 'none (v_proj→o_proj skipped: shapes differ under GQA)',
        ratio: sr?.result.ratio ?? -1,
        loss: sr?.result.loss ?? NaN,
        fallback: sr?.result.fallback ?? true,
        ...(clippedGroups !== undefined ? { clippedGroups } : {}),
      },
    });
  }
  return next;
}
