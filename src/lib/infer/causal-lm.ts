import { AutoModelForCausalLM, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { describeAdapter, isSoftwareAdapter } from '../gpu/device';
import { openCachedModel } from '../model/download';
import type { ModelSpec } from '../model/spec';
import { loadTokenizer } from '../model/tokenizer';
import type { ShardCache } from '../storage/shard-cache';
import { transformersIdFor } from '../storage/transformers-cache';
import { ensureDenseGraph } from './graph-store';
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
  const graph = await ensureDenseGraph(cache, cached, opts.onStatus);
  const tokenizer = await loadTokenizer(cache, key);
  const id = transformersIdFor(cache, key);
  const wanted = opts.device ?? 'auto';
  const tryOrder: Device[] = wanted === 'auto' ? ['webgpu', 'wasm'] : [wanted];
  let fallbackReason: string | undefined;
  for (const device of tryOrder) {
    let adapter: string | null = null;
    if (device === 'webgpu') {
      const report = await describeAdapter();
      if (!report.available) {
        fallbackReason = report.reason;
        if (wanted === 'webgpu') throw new Error(`WebGPU was requested but is unavailable: ${report.reason}`);
        continue;
      }
      if (wanted === 'auto' && isSoftwareAdapter(report)) {
        // bench:decode: WASM decodes ~100× faster than WebGPU emulated on the same CPU cores.
        fallbackReason = `the WebGPU adapter (${report.architecture || report.description || 'fallback'}) runs on the CPU; WASM is faster there`;
        continue;
      }
      adapter = [report.vendor, report.architecture].filter(Boolean).join(' · ') || 'unnamed adapter';
    }
    opts.onStatus?.(`starting a ${device} session`);
    try {
      const model = await AutoModelForCausalLM.from_pretrained(id, {
        device,
        dtype: 'fp32',
        use_external_data_format: graph.chunks,
      });
      return {
        key,
        label: cached.label,
        spec: cached.spec,
        model,
        tokenizer,
        device,
        adapter,
        ...(fallbackReason ? { fallbackReason } : {}),
      };
    } catch (err) {
      if (wanted !== 'auto' || device === 'wasm') throw err;
      fallbackReason = `WebGPU session failed: ${(err as Error).message}`;
    }
  }
  throw new Error(fallbackReason ?? 'no execution provider could run the model');
}
