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
 * From this many cores on, every model gets every core up to MAX_WASM_THREADS; below it, only
 * models of at least THREADS_MIN_MACS multiply-adds a token. Measured on two cores (`ctlab bench
 * decode --threads 1,all`, README): a second thread made the prefill of a 4-layer SmolLM2-135M
 * shape (42M multiply-adds a token) 1.35–2.08× faster at 256–512 tokens, but stories260k's
 * single-row generation (0.26M) 1.6–2.4× slower (bench:eval): on a model that small every step is
 * overhead, and ORT-web's pool threads spin while they wait for work (its global pool is created
 * that way; the session options that stop spinning reach only per-session pools, which the web
 * build turns off), contending with the calling thread and the browser's own threads.
 */
export const MIN_CORES_FOR_THREADS = 4;

/** Multiply-adds a token (`macsPerToken`) from which a model takes every core below MIN_CORES_FOR_THREADS. */
export const THREADS_MIN_MACS = 16e6;

/**
 * The default thread count on `cores` logical cores, for an isolated scope, for a model of
 * `macsPerToken` multiply-adds a token (unknown: counted as small).
 */
export function defaultWasmThreads(cores: number, macsPerToken?: number): number {
  if (cores >= MIN_CORES_FOR_THREADS) return Math.min(MAX_WASM_THREADS, cores);
  return macsPerToken !== undefined && macsPerToken >= THREADS_MIN_MACS ? Math.min(MAX_WASM_THREADS, cores) : 1;
}

/** What a model of at least THREADS_MIN_MACS would run on in a scope of this threading (the panel says it where it differs). */
export function largeModelThreads(w: WasmThreading): number {
  return w.isolated ? defaultWasmThreads(w.cores, THREADS_MIN_MACS) : 1;
}

/**
 * The thread count for ORT's WASM backend: `requested` (clamped to the cores) or, without it,
 * defaultWasmThreads for a model of `macsPerToken`; always one where the scope is not
 * cross-origin isolated.
 */
export function wasmThreading(
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis,
  requested?: number,
  macsPerToken?: number,
): WasmThreading {
  const isolated = scope.crossOriginIsolated === true;
  const cores = Math.max(1, scope.navigator?.hardwareConcurrency ?? 1);
  const wanted = requested === undefined ? defaultWasmThreads(cores, macsPerToken) : Math.max(1, Math.min(Math.floor(requested), cores));
  return { isolated, cores, threads: isolated ? wanted : 1 };
}
