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
 * ORT-web's own default is min(4, ⌈cores / 2⌉); we take every core up to 4, since ORT runs in our
 * eval worker and the page's own thread stays free. Beyond 4 the matrices of the models we run are
 * too small to split further with gain.
 *
 * Every model gets them, however small. Measured on two cores (`ctlab bench eval`, alternated runs):
 * a second thread made stories260k's evaluation faster in every mode, batch 1 and batched
 * (batched generation 47 → 58–60 items/s, likelihood 48 → 63–67), and the SmolLM2-135M shape's
 * 3.9 → 6.2 and 8.1 → 14.0. Only single-prompt generation of a model that small is slower
 * (stories260k through transformers.js, 255–279 → 172–175 tokens/s: every step is overhead, and
 * ORT-web's pool threads spin while they wait for work). ORT fixes the count when a worker's first
 * session starts, so a count chosen from a tiny first model would also hold every model after it.
 */
export const MAX_WASM_THREADS = 4;

/** The default thread count on `cores` logical cores, for an isolated scope. */
export function defaultWasmThreads(cores: number): number {
  return Math.min(MAX_WASM_THREADS, cores);
}

/**
 * The thread count for ORT's WASM backend: `requested` (clamped to the cores) or, without it,
 * `defaultWasmThreads`; always one where the scope is not cross-origin isolated.
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
