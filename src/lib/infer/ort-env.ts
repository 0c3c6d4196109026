import { env } from '@huggingface/transformers';
// The asyncify build is the one transformers.js loads with `onnxruntime-web/webgpu`; `?url`
// makes Vite ship the package's own files, so nothing is fetched from a CDN.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';

let configured = false;

/** Points onnxruntime-web (as transformers.js holds it) at our own copies of its wasm runtime. */
export function configureOrt(): void {
  if (configured) return;
  configured = true;
  const onnx = env.backends.onnx as {
    wasm?: { wasmPaths?: unknown; numThreads?: number; proxy?: boolean };
    logLevel?: string;
  };
  if (onnx.wasm) {
    onnx.wasm.wasmPaths = { wasm: new URL(wasmUrl, import.meta.url).href, mjs: new URL(mjsUrl, import.meta.url).href };
    // Threads need SharedArrayBuffer, which only cross-origin-isolated pages have.
    onnx.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  }
  onnx.logLevel = 'error';
  // Even if a module cache was off, never let transformers.js cache wasm from elsewhere.
  (env as { useWasmCache?: boolean }).useWasmCache = false;
}
