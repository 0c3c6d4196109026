import { AutoModelForCausalLM, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { describeAdapter, isSoftwareAdapter, type AdapterReport } from '../gpu/device';
import { openCachedModel } from '../model/download';
import type { ModelSpec } from '../model/spec';
import { loadTokenizer } from '../model/tokenizer';
import type { ShardCache } from '../storage/shard-cache';
import { transformersIdFor } from '../storage/transformers-cache';
import { ensureDenseGraph, storedGraph } from './graph-store';
import {
  checkWasm,
  checkWebGpu,
  estimateWasm,
  fp32Footprint,
  MemoryBudgetError,
  WASM_ADDRESS_SPACE,
  WAY_OUT_WASM,
  WAY_OUT_WEBGPU,
  type GpuBufferLimits,
} from './memory-budget';
import { configureOrt } from './ort-env';

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
}

export interface LoadOptions {
  /** `auto` tries WebGPU on a hardware adapter, then WASM. */
  device?: Device | 'auto';
  onStatus?: (msg: string) => void;
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
  const plan = await planDevices(cache, cached.key, cached.label, cached.spec, wanted, opts.budget ?? {});
  const graph = await ensureDenseGraph(cache, cached, opts.onStatus);
  const tokenizer = await loadTokenizer(cache, key);
  const id = transformersIdFor(cache, key);
  let fallbackReason = plan.fallbackReason;
  for (const device of plan.order) {
    opts.onStatus?.(`starting a ${device} session`);
    try {
      const model = await AutoModelForCausalLM.from_pretrained(id, {
        device,
        dtype: 'fp32',
        use_external_data_format: graph.chunks,
        // With a progress callback transformers.js reads each file into one buffer of its
        // Content-Length; without one it takes `response.arrayBuffer()`, which may assemble a
        // second copy of a multi-GB chunk file.
        progress_callback: onLoadProgress(opts.onStatus),
      });
      return {
        key,
        label: cached.label,
        spec: cached.spec,
        model,
        tokenizer,
        device,
        adapter: device === 'webgpu' ? plan.adapter : null,
        ...(fallbackReason ? { fallbackReason } : {}),
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
): Promise<DevicePlan> {
  const stored = await storedGraph(cache, key);
  const footprint = fp32Footprint(spec);
  // A stored graph (a packed variant's, say) says exactly how many weight bytes it holds.
  const what = stored?.linear === 'matmulnbits' ? `${label} (4/8-bit graph)` : `${label} as fp32`;
  const wasmLimit = budget.wasmBytes ?? WASM_ADDRESS_SPACE;
  const estimate = estimateWasm(spec, stored?.bytes ?? footprint.bytes, budget.contextTokens);
  const wasm = checkWasm(what, estimate, wasmLimit);
  const wasmRefusal = wasm.fits ? undefined : wasm.reason;
  const refuse = (reason: string, way: string): never => {
    throw new MemoryBudgetError(`${reason}: ${way}`, estimate.total, wasmLimit);
  };
  if (wanted === 'wasm') {
    if (wasmRefusal) refuse(wasmRefusal, WAY_OUT_WASM);
    return { order: ['wasm'], adapter: null };
  }
  const report: AdapterReport = await describeAdapter();
  const adapter = report.available ? [report.vendor, report.architecture].filter(Boolean).join(' · ') || 'unnamed adapter' : null;
  const gpu = report.available
    ? checkWebGpu(what, footprint.largest, {
        maxBufferSize: budget.gpuLimits?.maxBufferSize ?? report.limits.maxBufferSize,
        maxStorageBufferBindingSize: budget.gpuLimits?.maxStorageBufferBindingSize ?? report.limits.maxStorageBufferBindingSize,
      })
    : null;
  if (wanted === 'webgpu') {
    if (!report.available) throw new Error(`WebGPU was requested but is unavailable: ${report.reason}`);
    if (gpu && !gpu.fits) refuse(gpu.reason, WAY_OUT_WEBGPU);
    return { order: ['webgpu'], adapter };
  }
  if (wasmRefusal) {
    if (!report.available) refuse(`${wasmRefusal}, and WebGPU is unavailable here (${report.reason})`, WAY_OUT_WASM);
    if (gpu && !gpu.fits) refuse(`${wasmRefusal}; on WebGPU, ${gpu.reason}`, 'evaluate one of its 4-bit variants (rtn4, gptq4, awq4)');
    return { order: ['webgpu'], adapter, wasmRefusal };
  }
  if (!report.available) return { order: ['wasm'], adapter: null, fallbackReason: report.reason };
  if (gpu && !gpu.fits) return { order: ['wasm'], adapter: null, fallbackReason: gpu.reason };
  if (isSoftwareAdapter(report)) {
    // bench:decode: WASM decodes ~100× faster than WebGPU emulated on the same CPU cores.
    const why = `the WebGPU adapter (${report.architecture || report.description || 'fallback'}) runs on the CPU; WASM is faster there`;
    return { order: ['wasm'], adapter: null, fallbackReason: why };
  }
  return { order: ['webgpu', 'wasm'], adapter };
}
