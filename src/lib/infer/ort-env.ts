import { env } from '@huggingface/transformers';
// The asyncify build is the one transformers.js loads with `onnxruntime-web/webgpu`; `?url`
// makes Vite ship the package's own files, so nothing is fetched from a CDN.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import { wasmThreading, type WasmThreading } from './wasm-threads';

type OnnxEnv = { wasm?: { wasmPaths?: unknown; numThreads?: number; proxy?: boolean }; logLevel?: string };

let configured = false;
/** Set once a session's thread count was chosen: ORT reads it when its first session starts. */
let threadsFixed = false;

function onnxEnv(): OnnxEnv {
  return env.backends.onnx as OnnxEnv;
}

/**
 * Points onnxruntime-web (as transformers.js holds it) at our own copies of its wasm runtime and
 * gives it the default thread count. ORT reads the count once, when its first session starts, so
 * whoever starts sessions calls `fixOrtThreads` just before; `threads` (the decode benchmark's
 * rows) fixes an explicit count at once.
 */
export function configureOrt(opts: { threads?: number } = {}): void {
  if (!configured) {
    configured = true;
    const onnx = onnxEnv();
    if (onnx.wasm) {
      onnx.wasm.wasmPaths = { wasm: new URL(wasmUrl, import.meta.url).href, mjs: new URL(mjsUrl, import.meta.url).href };
      // Threads need SharedArrayBuffer, which only cross-origin-isolated pages (and their workers) have.
      onnx.wasm.numThreads = wasmThreading(globalThis).threads;
    }
    onnx.logLevel = 'error';
    // Even if a module cache was off, never let transformers.js cache wasm from elsewhere.
    (env as { useWasmCache?: boolean }).useWasmCache = false;
  }
  if (opts.threads !== undefined) setThreads(wasmThreading(globalThis, opts.threads).threads);
}

/**
 * Called before a session starts: the first one in this scope fixes ORT's thread count (the
 * default, unless `configureOrt` was given one); later calls change nothing, as ORT would not.
 */
export function fixOrtThreads(): void {
  configureOrt();
  setThreads(wasmThreading(globalThis).threads);
}

function setThreads(threads: number): void {
  if (threadsFixed) return;
  threadsFixed = true;
  const wasm = onnxEnv().wasm;
  if (wasm) wasm.numThreads = threads;
}

/** Whether this scope is isolated and the thread count ORT's WASM backend was configured with. */
export function ortWasmThreading(): WasmThreading {
  configureOrt();
  const scope = wasmThreading();
  return { ...scope, threads: onnxEnv().wasm?.numThreads ?? 1 };
}
