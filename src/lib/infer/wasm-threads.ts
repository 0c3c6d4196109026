/** How onnxruntime-web's WASM backend may run in a given global scope (a page or a worker). */
export interface WasmThreading {
  /** Cross-origin isolated: SharedArrayBuffer exists, so WASM threads can. */
  isolated: boolean;
  /** Logical cores the browser reports. */
  cores: number;
  /** Threads ORT is (or will be) configured with, the calling thread included. */
  threads: number;
}

/**
 * ORT-web's own default is min(4, ⌈cores / 2⌉), one thread on a two-core machine; we take every
 * core up to 4, since ORT runs in our eval worker and the page's own thread stays free. Beyond 4 the
 * matrices of the models we run are too small to split further with gain.
 */
export const MAX_WASM_THREADS = 4;

/**
 * The thread count for ORT's WASM backend: `requested` (clamped to the cores) or, without it, all
 * cores up to MAX_WASM_THREADS; always one where the scope is not cross-origin isolated.
 */
export function wasmThreading(
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis,
  requested?: number,
): WasmThreading {
  const isolated = scope.crossOriginIsolated === true;
  const cores = Math.max(1, scope.navigator?.hardwareConcurrency ?? 1);
  const wanted = requested === undefined ? Math.min(MAX_WASM_THREADS, cores) : Math.max(1, Math.min(Math.floor(requested), cores));
  return { isolated, cores, threads: isolated ? wanted : 1 };
}
