// Page-side helpers of `ctlab bench scale`. The bench itself runs in Node (bin/lib/bench-scale.mjs):
// it needs a fresh browser per shape and the memory of every browser process, which the page
// cannot see. Here: the load phases as the page's status messages delimit them, and the
// parameter count the memory ratio divides by.
import { parameterCountFromConfig, type HubConfig } from '../model/known-models';

/** One status message of a load, with its time since the load started. */
export interface StatusMark {
  message: string;
  atMs: number;
}

export interface LoadPhases {
  /** Reading the safetensors and writing the ONNX graph into the cache; null when it was cached. */
  buildMs: number | null;
  /** Creating the inference session (transformers.js + ORT) from the cached graph. */
  sessionMs: number;
  loadMs: number;
}

const BUILD = 'building the ONNX graph';
const SESSION = /^starting a \w+ session( \(\w+ weights\))?$/;

/**
 * Splits a load into graph build and session creation at the status messages `loadCausalLm`
 * sends. The last session start counts: under `auto` a failed WebGPU attempt precedes WASM's.
 */
export function loadPhases(marks: StatusMark[], endMs: number): LoadPhases {
  const build = marks.find((m) => m.message.startsWith(BUILD));
  const sessions = marks.filter((m) => SESSION.test(m.message));
  const session = sessions[sessions.length - 1];
  if (!session)
    throw new Error(`the load sent no "starting a … session" status (got: ${marks.map((m) => m.message).join('; ') || 'none'})`);
  return {
    buildMs: build ? session.atMs - build.atMs : null,
    sessionMs: endMs - session.atMs,
    loadMs: endMs,
  };
}

/** Timestamps status messages as they arrive, for `loadPhases`. */
export function statusClock(now: () => number = () => performance.now()) {
  const start = now();
  const marks: StatusMark[] = [];
  return {
    mark: (message: string) => marks.push({ message, atMs: now() - start }),
    phases: () => loadPhases(marks, now() - start),
  };
}

/**
 * Parameters of a checkpoint's config: what its weights take in fp32 (× 4 bytes) is the yardstick
 * for the browser's memory. Throws for a model_type the catalog does not know.
 */
export function scaleParams(config: HubConfig): number {
  return parameterCountFromConfig(config);
}
