import { AutoModelForCausalLM, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { describeAdapter, isSoftwareAdapter, type AdapterReport } from '../gpu/device';
import { openCachedModel } from '../model/download';
import type { ModelSpec } from '../model/spec';
import { loadTokenizer } from '../model/tokenizer';
import type { ShardCache } from '../storage/shard-cache';
import { transformersIdFor } from '../storage/transformers-cache';
import type { Precision } from '../onnx';
import { readExternalData, releaseExternalData, type ExternalDataFile } from './external-data';
import { ensureDenseGraph, storedGraph, type GraphProgressFn } from './graph-store';
import {
  checkWasm,
  checkWebGpu,
  estimateWasm,
  graphFootprint,
  MemoryBudgetError,
  WASM_ADDRESS_SPACE,
  WAY_OUT_WASM,
  WAY_OUT_WEBGPU,
  type GpuBufferLimits,
} from './memory-budget';
import { configureOrt, fixOrtThreads } from './ort-env';
import { plainDecoderView, type OrtSessionLike } from './prefix-session';

export type Device = 'webgpu' | 'wasm';

export interface LoadedLm {
  key: string;
  label: string;
  spec: ModelSpec;
  model: PreTrainedModel;
  tokenizer: PreTrainedTokenizer;
  /** The execution provider that actually runs the model. */
  device: Device;
  /** vendor · architecture of the WebGPU adapter, when WebGPU runs it. */
  adapter: string | null;
  /** Why WebGPU was not used, when it was asked for or allowed and is not running the model. */
  fallbackReason?: string;
  /** The graph's weight precision, and why. */
  precision: Precision;
  precisionReason: string;
  /**
   * The model's ORT session with all its inputs, the shared prefix's too, for the batch decoder;
   * transformers.js runs `model` over a view of it without them (`plainDecoderView`).
   */
  session: OrtSessionLike;
}

export interface LoadOptions {
  /** `auto` tries WebGPU on a hardware adapter, then WASM. */
  device?: Device | 'auto';
  /** `auto` (default): fp16 weights on a WebGPU adapter with `shader-f16`, fp32 otherwise. */
  precision?: Precision | 'auto';
  onStatus?: (msg: string) => void;
  /** Bytes of the ONNX graph written while it is built from the safetensors (a first load only). */
  onGraphProgress?: GraphProgressFn;
  /** Overrides of the limits the up-front memory check uses (tests inject small ones). */
  budget?: { wasmBytes?: number; contextTokens?: number; gpuLimits?: GpuBufferLimits };
}

/**
 * ORT-web keeps external data in one virtual file system keyed by file name, so two sessions
 * created at once with `model.onnx_data` can read each other's weights: create them one at a time.
 */
let sessionQueue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = sessionQueue.then(work, work);
  sessionQueue = run.catch(() => undefined);
  return run;
}

/** A cached model ready to run: graph built if needed, session on WebGPU or WASM, tokenizer loaded. */
export function loadCausalLm(cache: ShardCache, key: string, opts: LoadOptions = {}): Promise<LoadedLm> {
  return oneAtATime(() => loadOne(cache, key, opts));
}

async function loadOne(cache: ShardCache, key: string, opts: LoadOptions = {}): Promise<LoadedLm> {
  configureOrt();
  const cached = await openCachedModel(cache, key);
  const wanted = opts.device ?? 'auto';
  // Decided before the graph is built: a model that cannot fit is refused in seconds, not minutes.
  const plan = await planDevices(cache, cached.key, cached.label, cached.spec, wanted, opts.budget ?? {}, opts.precision ?? 'auto');
  const tokenizer = await loadTokenizer(cache, key);
  const id = transformersIdFor(cache, key);
  let fallbackReason = plan.fallbackReason;
  // The first session of this worker fixes ORT's thread count, for every model after it too.
  fixOrtThreads();
  for (const device of plan.order) {
    const { precision, reason: precisionReason } = plan.precision[device];
    const graph = await ensureDenseGraph(cache, cached, opts.onStatus, precision, opts.onGraphProgress);
    opts.onStatus?.(`starting a ${device} session (${precision} weights)`);
    let externalData: ExternalDataFile[] = [];
    try {
      externalData = await readExternalData(cache, cached.key, precision, graph.chunks);
      const model = await AutoModelForCausalLM.from_pretrained(id, {
        device,
        dtype: precision,
        // The external data is ours (below), so transformers.js fetches none of its own.
        use_external_data_format: 0,
        // With a progress callback transformers.js reads each file into one buffer of its
        // Content-Length; without one it takes `response.arrayBuffer()`, which may assemble a
        // second copy of the file.
        progress_callback: onLoadProgress(opts.onStatus),
        session_options: {
          externalData,
          // MLAS prepacking keeps a second, packed copy of every fp32 MatMul/Gemm weight in the
          // WASM heap (the tied embedding stays for Gather too); bench:scale measured SmolLM2-135M's
          // peak while generating at 1.53 GB without it against 1.86 GB with it, decode no slower.
          extra: { session: { disable_prepacking: '1' } },
        },
      });
      const sessions = (model as unknown as { sessions: Record<string, OrtSessionLike> }).sessions;
      const session = sessions.model;
      sessions.model = plainDecoderView(session, cached.spec);
      return {
        key,
        label: cached.label,
        spec: cached.spec,
        model,
        session,
        tokenizer,
        device,
        adapter: device === 'webgpu' ? plan.adapter : null,
        ...(fallbackReason ? { fallbackReason } : {}),
        precision,
        precisionReason,
      };
    } catch (err) {
      if (device === 'webgpu' && plan.wasmRefusal) {
        throw new Error(
          `The WebGPU session for ${cached.label} failed (${(err as Error).message}), and WASM cannot hold it: ${plan.wasmRefusal}`,
          {
            cause: err,
          },
        );
      }
      if (wanted !== 'auto' || device === 'wasm') throw err;
      fallbackReason = `WebGPU session failed: ${(err as Error).message}`;
    } finally {
      releaseExternalData(externalData);
    }
  }
  throw new Error(fallbackReason ?? 'no execution provider could run the model');
}

/** Reports the ONNX files' progress through `onStatus`, at most once per 10 %. */
function onLoadProgress(onStatus?: (msg: string) => void): (p: unknown) => void {
  const shown = new Map<string, number>();
  return (p) => {
    const { status, file, progress } = p as { status?: string; file?: string; progress?: number };
    if (!onStatus || status !== 'progress' || !file?.startsWith('onnx/') || typeof progress !== 'number') return;
    const step = Math.floor(progress / 10);
    if (shown.get(file) === step) return;
    shown.set(file, step);
    onStatus(`loading ${file} (${Math.round(progress)} %)`);
  };
}

interface DevicePlan {
  order: Device[];
  /** The graph precision each device would run, and why. */
  precision: Record<Device, { precision: Precision; reason: string }>;
  adapter: string | null;
  fallbackReason?: string;
  /** Why WASM was ruled out by the memory check, when it was. */
  wasmRefusal?: string;
}

/**
 * Which execution providers to try, in order, after the memory check: WASM only when the
 * estimated peak fits its address space, WebGPU only when every tensor fits one buffer of the
 * adapter. In `auto`, a model too big for WASM goes to WebGPU even on a software adapter (slow
 * beats impossible) and never falls back to WASM.
 */
async function planDevices(
  cache: ShardCache,
  key: string,
  label: string,
  spec: ModelSpec,
  wanted: Device | 'auto',
  budget: NonNullable<LoadOptions['budget']>,
  wantedPrecision: Precision | 'auto',
): Promise<DevicePlan> {
  const stored = await storedGraph(cache, key);
  const packed = stored?.linear === 'matmulnbits';
  const half = packed ? await storedGraph(cache, key, 'fp16') : null;
  const report: AdapterReport | null = wanted === 'wasm' ? null : await describeAdapter();
  const precision = choosePrecision(wantedPrecision, packed ? { halfGraph: half !== null } : null, report);
  const footprint = { wasm: graphFootprint(spec, precision.wasm.precision), webgpu: graphFootprint(spec, precision.webgpu.precision) };
  // A stored graph (a packed variant's, say) says exactly how many weight bytes it holds.
  const whatOn = (device: Device) => (packed ? `${label} (4/8-bit graph)` : `${label} as ${precision[device].precision}`);
  const what = whatOn('wasm');
  const wasmLimit = budget.wasmBytes ?? WASM_ADDRESS_SPACE;
  const packedBytes = precision.wasm.precision === 'fp16' && half ? half.bytes : stored?.bytes;
  const estimate = estimateWasm(spec, packed && packedBytes !== undefined ? packedBytes : footprint.wasm.bytes, budget.contextTokens);
  const wasm = checkWasm(what, estimate, wasmLimit);
  const wasmRefusal = wasm.fits ? undefined : wasm.reason;
  const refuse = (reason: string, way: string): never => {
    throw new MemoryBudgetError(`${reason}: ${way}`, estimate.total, wasmLimit);
  };
  if (wanted === 'wasm' || !report) {
    if (wasmRefusal) refuse(wasmRefusal, WAY_OUT_WASM);
    return { order: ['wasm'], adapter: null, precision };
  }
  const adapter = report.available ? [report.vendor, report.architecture].filter(Boolean).join(' · ') || 'unnamed adapter' : null;
  const gpu = report.available
    ? checkWebGpu(whatOn('webgpu'), footprint.webgpu.largest, {
        maxBufferSize: budget.gpuLimits?.maxBufferSize ?? report.limits.maxBufferSize,
        maxStorageBufferBindingSize: budget.gpuLimits?.maxStorageBufferBindingSize ?? report.limits.maxStorageBufferBindingSize,
      })
    : null;
  if (wanted === 'webgpu') {
    if (!report.available) throw new Error(`WebGPU was requested but is unavailable: ${report.reason}`);
    if (gpu && !gpu.fits) refuse(gpu.reason, WAY_OUT_WEBGPU);
    return { order: ['webgpu'], adapter, precision };
  }
  if (wasmRefusal) {
    if (!report.available) refuse(`${wasmRefusal}, and WebGPU is unavailable here (${report.reason})`, WAY_OUT_WASM);
    if (gpu && !gpu.fits) refuse(`${wasmRefusal}; on WebGPU, ${gpu.reason}`, 'evaluate one of its 4-bit variants (rtn4, gptq4, awq4)');
    return { order: ['webgpu'], adapter, wasmRefusal, precision };
  }
  if (!report.available) return { order: ['wasm'], adapter: null, fallbackReason: report.reason, precision };
  if (gpu && !gpu.fits) return { order: ['wasm'], adapter: null, fallbackReason: gpu.reason, precision };
  if (isSoftwareAdapter(report)) {
    // bench:decode: WASM decodes ~100× faster than WebGPU emulated on the same CPU cores.
    const why = `the WebGPU adapter (${report.architecture || report.description || 'fallback'}) runs on the CPU; WASM is faster there`;
    return { order: ['wasm'], adapter: null, fallbackReason: why, precision };
  }
  return { order: ['webgpu', 'wasm'], adapter, precision };
}

/**
 * The weight precision per device: fp16 where the WebGPU adapter computes in half precision
 * (`shader-f16`), fp32 elsewhere; an explicit choice wins. A 4/8-bit variant runs one of its
 * stored graphs: the fp16 one (weights and scales in half precision) only where it was built,
 * which compression does on machines whose adapter offers `shader-f16`.
 */
export function choosePrecision(
  wanted: Precision | 'auto',
  packedVariant: { halfGraph: boolean } | null,
  report: Pick<AdapterReport, 'available' | 'features'> | null,
): Record<Device, { precision: Precision; reason: string }> {
  const f16 = report?.available === true && report.features.includes('shader-f16');
  if (packedVariant) {
    const fp32 = (reason: string) => ({ precision: 'fp32' as const, reason });
    const stored = 'a 4/8-bit variant runs its stored MatMulNBits graph';
    if (!packedVariant.halfGraph) {
      const why = wanted === 'fp16' ? 'fp16 was asked for, but' : f16 ? 'the adapter offers shader-f16, but' : '';
      const same = fp32(`${why ? `${why} this variant was compressed without an fp16 graph: ` : ''}${stored} (fp32 scales)`);
      return { wasm: same, webgpu: same };
    }
    if (wanted !== 'auto') {
      const same = { precision: wanted, reason: `${wanted} was asked for (${stored}, ${wanted} scales)` };
      return { wasm: same, webgpu: same };
    }
    return {
      wasm: fp32(`WASM runs the variant's fp32-scale MatMulNBits graph`),
      webgpu: f16
        ? { precision: 'fp16', reason: 'the WebGPU adapter offers shader-f16: the variant runs its fp16 MatMulNBits graph' }
        : fp32(`the WebGPU adapter has no shader-f16: ${stored} (fp32 scales)`),
    };
  }
  if (wanted !== 'auto') {
    const same = { precision: wanted, reason: `${wanted} was asked for` };
    return { wasm: same, webgpu: same };
  }
  return {
    wasm: { precision: 'fp32', reason: 'WASM runs fp32 graphs (fp16 weights are used on WebGPU adapters with shader-f16)' },
    webgpu: f16
      ? { precision: 'fp16', reason: 'the WebGPU adapter offers shader-f16' }
      : { precision: 'fp32', reason: 'the WebGPU adapter has no shader-f16' },
  };
}
