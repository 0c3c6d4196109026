import * as Comlink from 'comlink';
import type { EvalService } from '../lib/app/eval-service';
import type { benchDecodeThreads } from '../lib/bench/decode';
import type { ModelLibrary } from '../lib/app/model-library';
import type { CompressService } from '../lib/variants/compress-service';

let modelApi: Comlink.Remote<ModelLibrary> | null = null;
let evalApi: Comlink.Remote<EvalService> | null = null;
let compressApi: Comlink.Remote<CompressService> | null = null;

/** The one model worker of the page: downloads and IndexedDB work run there. */
export function modelWorker(): Comlink.Remote<ModelLibrary> {
  if (!modelApi) {
    const worker = new Worker(new URL('../../workers/model.worker.ts', import.meta.url), { type: 'module', name: 'ctlab-model' });
    modelApi = Comlink.wrap<ModelLibrary>(worker);
  }
  return modelApi;
}

/** The one inference worker of the page: ONNX sessions live there so the page never blocks. */
export function evalWorker(): Comlink.Remote<EvalService> {
  if (!evalApi) {
    const worker = new Worker(new URL('../../workers/eval.worker.ts', import.meta.url), { type: 'module', name: 'ctlab-eval' });
    evalApi = Comlink.wrap<EvalService>(worker);
  }
  return evalApi;
}

/** The one compression worker of the page: calibration, kernels and variant writing run there. */
export function compressWorker(): Comlink.Remote<CompressService> {
  if (!compressApi) {
    const worker = new Worker(new URL('../../workers/compress.worker.ts', import.meta.url), { type: 'module', name: 'ctlab-compress' });
    compressApi = Comlink.wrap<CompressService>(worker);
  }
  return compressApi;
}

/**
 * A fresh worker for one run of the decode benchmark, ended after `use`: ORT fixes its thread
 * count once per worker, so each thread setting needs its own.
 */
export async function withBenchWorker<T>(
  use: (api: Comlink.Remote<{ benchDecodeThreads: typeof benchDecodeThreads }>) => Promise<T>,
): Promise<T> {
  const worker = new Worker(new URL('../../workers/bench.worker.ts', import.meta.url), { type: 'module', name: 'ctlab-bench' });
  try {
    return await use(Comlink.wrap(worker));
  } finally {
    worker.terminate();
  }
}
