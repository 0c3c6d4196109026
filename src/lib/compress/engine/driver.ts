import { LINEAR_IDS, layerPrefix, linearModule, type LinearId, type ModelSpec } from '../../model/spec';
import type { ResolvedSettings } from '../reference/settings';
import { FactorCache } from '../reference/solver';
import { locateGpuError, TYPESCRIPT_KERNELS, type Kernels } from './backend';
import { createBlockRunner } from './block-runner';
import { checkHidden, checkLayerTensors } from './finite';
import type { LayerContext } from './layer-context';
import { embedCalibration, type LayerSource } from './layer-source';
import type { CompressReport, DriverProgress, LayerOutput, LayerTiming, LinearReport } from './report';
import type { BlockRunner, ForwardKind } from './runner-types';
import { forwardedSamples, LAYER_STRATEGIES } from './strategies';
import { Timer } from './timer';

/**
 * The calibration driver (docs/design.md): layer-0 inputs captured once from the
 * embedding, then per decoder layer: run the block on every calibration sample, accumulate the
 * statistics its method needs, compress the seven linears in the order the method prescribes,
 * re-run the block with the compressed weights for the next layer's inputs (AWQ: the dense
 * outputs). Only the current layer's weights and the activations are resident; every finished
 * layer goes to `onLayer` and is dropped. RTN and magnitude read no statistic: their passes
 * run only the samples whose tokens the error report keeps (`forwardedSamples`).
 *
 * Kernels (statistics, quantizers, masks, GPTQ/SparseGPT loops, AWQ clip search) run on the
 * GPU when `kernels` holds a device, on their TypeScript references otherwise (`backend.ts`).
 * The block forward is the WGSL one of `gpu/block-forward.ts` (`forward: 'webgpu'`, the default
 * with a device), the TypeScript one of `reference/block.ts`, or a one-block ONNX graph in
 * onnxruntime-web (`forward: 'ort-wasm' | 'ort-webgpu'`); AWQ's candidate losses run on the
 * WGSL forward's device when it is the forward, on the TypeScript attention / MLP sub-blocks
 * otherwise. Each method's per-layer work is a strategy (`strategies/`).
 */

export interface DriverOptions {
  spec: ModelSpec;
  source: LayerSource;
  /** Token ids: every sample the same length (the calibration sequence length). */
  calibration: readonly (readonly number[])[];
  /** Resolved once by the caller (`resolveSettings`). */
  settings: ResolvedSettings;
  /** Default: the TypeScript references. */
  kernels?: Kernels;
  /** Default `webgpu` (the WGSL block forward) when `kernels` holds a device, `typescript` otherwise. */
  forward?: ForwardKind | BlockRunner;
  signal?: AbortSignal;
  onProgress?: (p: DriverProgress) => void;
  /**
   * Receives each finished layer (awaited before the next starts), with its timing so far and
   * the next layer's calibration inputs: what a later run needs to go on from there (`resume`).
   */
  onLayer?: (out: LayerOutput, kept: { timing: LayerTiming; next: Float32Array[] }) => void | Promise<void>;
  /**
   * Goes on from a stopped run: its finished layers' reports and timings (layers 0…k−1, whose
   * outputs the caller already holds) and the inputs of layer k. Layers before k are not read.
   */
  resume?: { layers: LayerTiming[]; linears: LinearReport[]; hidden: Float32Array[] };
  /** Compress only the first N layers (benchmarks); default all. */
  layers?: number;
  /** Tokens of each linear's input kept to measure its reconstruction error (default 1024). */
  errorTokens?: number;
  /** AWQ clip search: tokens sampled every ⌊T/n⌋ (default 512, llm-awq's n_sample_token). */
  awqClipSampleTokens?: number;
  /** Test hook: sees (and may change) every Hessian before GPTQ / SparseGPT factor it. */
  onHessian?: (layer: number, linear: LinearId, H: Float32Array) => void;
}

/** Where a layer was when an error surfaced, so a GPU error's message can say where. */
interface Position {
  layer: number;
  step?: DriverProgress['step'];
  linear?: LinearId;
}

function describePosition(at: Position): string {
  const where = at.linear
    ? `${layerPrefix(at.layer)}${linearModule(at.linear)}`
    : at.step === 'forward' || at.step === undefined
      ? 'its block pass, statistics or storage'
      : `its ${at.step} step`;
  return `layer ${at.layer}, ${where}`;
}

/** Compresses a model's decoder layers from calibration token ids. */
export async function compressLayers(opts: DriverOptions): Promise<CompressReport> {
  const t0 = performance.now();
  const { spec, source, signal, settings } = opts;
  const kernels = opts.kernels ?? TYPESCRIPT_KERNELS;
  const strategy = LAYER_STRATEGIES[settings.method];
  const nLayers = Math.min(spec.numLayers, opts.layers ?? spec.numLayers);
  const N = opts.calibration.length;
  if (N === 0) throw new Error('calibration needs at least one sample');
  const L = opts.calibration[0].length;
  if (L < 2) throw new Error('calibration samples need at least two tokens');
  if (opts.calibration.some((s) => s.length !== L)) throw new Error('calibration samples must all have the same length');
  if (L > spec.maxPositions) throw new Error(`calibration samples of ${L} tokens exceed the context of ${spec.maxPositions}`);
  const errorTokens = Math.max(1, opts.errorTokens ?? 1024);
  const forwarded = forwardedSamples(settings.method, N, L, errorTokens);
  const runner =
    typeof opts.forward === 'object'
      ? opts.forward
      : await createBlockRunner(opts.forward ?? (kernels.kind === 'webgpu' ? 'webgpu' : 'typescript'), spec, kernels);
  const ownsRunner = typeof opts.forward !== 'object';
  const progress = (p: Omit<DriverProgress, 'layers'>) => opts.onProgress?.({ ...p, layers: nLayers });
  const allPhases: Record<string, number> = {};
  const layers: LayerTiming[] = [...(opts.resume?.layers ?? [])];
  const linears: LinearReport[] = [...(opts.resume?.linears ?? [])];
  const first = layers.length;
  for (const t of layers) for (const [k, v] of Object.entries(t.phases)) allPhases[k] = (allPhases[k] ?? 0) + v;
  // A run stopped before data-free methods trimmed their passes kept every sample's inputs.
  const resumeOk = (kept: number) => (forwarded < N ? kept >= forwarded : kept === N);
  if (opts.resume && !resumeOk(opts.resume.hidden.length))
    throw new Error(`resume: ${opts.resume.hidden.length} inputs kept for ${forwarded} samples`);

  try {
    const captureStart = performance.now();
    let hidden: Float32Array[];
    if (opts.resume) {
      progress({ phase: 'capture', fraction: first / nLayers, message: `going on from layer ${first + 1}/${nLayers} (${first} kept)` });
      hidden = opts.resume.hidden.slice(0, forwarded);
    } else {
      progress({ phase: 'capture', fraction: 0, message: `embedding ${forwarded} × ${L} calibration tokens` });
      hidden = await embedCalibration(spec, source, opts.calibration.slice(0, forwarded));
    }
    const captureMs = performance.now() - captureStart;

    const layersStart = performance.now();
    let at: Position = { layer: first };
    for (let i = first; i < nLayers; i++) {
      at = { layer: i };
      try {
        signal?.throwIfAborted();
        const layerStart = performance.now();
        const timer = new Timer();
        const lw = await timer.time('read', () => source.layer(i));
        checkLayerTensors(i, lw);
        checkHidden(spec, i, hidden);
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
          factors: new FactorCache(),
          onHessian: opts.onHessian,
          progress: (step, linear, message) => {
            at = { layer: i, step, linear };
            progress({
              phase: 'layer',
              layer: i,
              step,
              linear,
              linearsDone: ctx.linears.length,
              fraction: (i + ctx.linears.length / LINEAR_IDS.length) / nLayers,
              message: `layer ${i + 1}/${nLayers}: ${message}`,
            });
          },
        };
        hidden = await strategy(ctx);
        const tensors = new Map<string, Float32Array>();
        for (const [name, v] of lw) tensors.set(`${layerPrefix(i)}${name}`, v);
        linears.push(...ctx.linears);
        at = { layer: i, step: undefined, linear: undefined };
        const kept = { timing: { layer: i, ms: performance.now() - layerStart, phases: { ...timer.phases } }, next: hidden };
        await timer.time('store', () => opts.onLayer?.({ layer: i, tensors, quantized: ctx.quantized, linears: ctx.linears }, kept));
        const ms = performance.now() - layerStart;
        layers.push({ layer: i, ms, phases: timer.phases });
        for (const [k, v] of Object.entries(timer.phases)) allPhases[k] = (allPhases[k] ?? 0) + v;
        progress({
          phase: 'layer',
          layer: i,
          linearsDone: LINEAR_IDS.length,
          fraction: (i + 1) / nLayers,
          message: `layer ${i + 1}/${nLayers} done in ${(ms / 1000).toFixed(1)} s`,
        });
      } catch (err) {
        const here = at;
        throw locateGpuError(err, () => describePosition(here));
      }
    }
    const layersMs = performance.now() - layersStart;
    progress({ phase: 'done', fraction: 1, message: 'all layers compressed' });
    return {
      settings,
      kernels: kernels.kind,
      forward: runner.kind,
      samples: N,
      forwardSamples: forwarded,
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
