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
 * ORT-web's own default is min(4, ⌈cores / 2⌉); from MIN_CORES_FOR_THREADS cores on we take every
 * core up to 4, since ORT runs in our eval worker and the page's own thread stays free. Beyond 4 the
 * matrices of the models we run are too small to split further with gain.
 */
export const MAX_WASM_THREADS = 4;

/**
 * Below this many cores the default is one thread. Measured on two cores (`ctlab bench decode
 * --threads 1,all`, README): a second thread made a 135M model's long prefill 1.35–2.08× faster
 * but a small model's single-row generation 1.6–2.4× slower (bench:eval), and ORT fixes the count
 * when a worker's first session starts, before the model to come is known. ORT-web's pool threads
 * spin while they wait for work (its global pool is created that way, and the session options
 * that stop spinning reach only per-session pools, which the web build turns off), so on two
 * cores they contend with the calling thread and the browser's own threads.
 */
export const MIN_CORES_FOR_THREADS = 4;

/** The default thread count on `cores` logical cores, for an isolated scope. */
export function defaultWasmThreads(cores: number): number {
  return cores >= MIN_CORES_FOR_THREADS ? Math.min(MAX_WASM_THREADS, cores) : 1;
}

/**
 * The thread count for ORT's WASM backend: `requested` (clamped to the cores) or, without it,
 * defaultWasmThreads; always one where the scope is not cross-origin isolated.
 */
export function wasmThreading(
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis,
  requested?: number,
): WasmThreading {
  const isolated = scope.crossOriginIsolated === true;
  const cores = Math.max(1, scope.navigator?.hardwareConcurrency ?? 1);
  const wanted = requested === undefined ? defaultWasmThreads(cores) : Math.max(1, Math.min(Math.floor(requested), cores));
  return { isolated, cores, threads: isolated ? wanted : 1 };
}
