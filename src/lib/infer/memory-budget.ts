import type { ModelSpec } from '../model/spec';
import { expectedTensors } from '../model/weights';
import { formatBytes } from '../util/format';

/**
 * Will a model fit before we spend minutes building and loading it? Pure estimates from the
 * config, compared with the limits the browser states: WASM's 32-bit address space, the
 * WebGPU adapter's buffer limits. The figures are deliberately on the high side: refusing a
 * model that would just have fitted costs a retry on WebGPU, while a model that does not fit
 * costs minutes and ends in `std::bad_alloc`.
 */

/** onnxruntime-web's WASM build is wasm32: its heap can never exceed 4 GiB. */
export const WASM_ADDRESS_SPACE = 4 * 1024 ** 3;

/** Context the estimate provisions: the perplexity window and the longest prompts the evaluation sends. */
export const DEFAULT_CONTEXT_TOKENS = 1024;

/** The wasm module, ORT's runtime and session state, the tokenizer: measured ≈ 60 MB, provisioned with room. */
export const RUNTIME_BYTES = 128 * 1024 ** 2;

/**
 * Share of the weights added for the allocator: initializers arrive one by one, fp32 MatMul
 * weights are prepacked by MLAS (a second copy of one tensor at a time) and the freed blocks
 * fragment the heap, which never shrinks.
 */
export const WEIGHT_SLACK = 0.1;

const F32 = 4;

export interface WeightFootprint {
  /** Bytes of every initializer of the fp32 graph (a tied embedding counted once). */
  bytes: number;
  /** The largest single tensor, which has to fit one GPU buffer on WebGPU. */
  largest: { name: string; bytes: number };
}

/** What the dense fp32 graph of `spec` holds: every checkpoint tensor as fp32 (linears transposed, same size). */
export function fp32Footprint(spec: ModelSpec): WeightFootprint {
  return graphFootprint(spec, 'fp32');
}

/**
 * What the dense graph of `spec` holds at `precision`: in an fp16 graph the linears and the
 * embedding take 2 bytes a value, norms and biases stay fp32.
 */
export function graphFootprint(spec: ModelSpec, precision: 'fp32' | 'fp16'): WeightFootprint {
  let bytes = 0;
  let largest = { name: '', bytes: 0 };
  for (const [name, shape] of expectedTensors(spec)) {
    const half = precision === 'fp16' && !name.endsWith('norm.weight') && !name.endsWith('.bias');
    const b = shape.reduce((a, d) => a * d, 1) * (half ? 2 : F32);
    bytes += b;
    if (b > largest.bytes) largest = { name, bytes: b };
  }
  return { bytes, largest };
}

export interface WasmEstimate {
  /** The graph's initializers, copied from external data into the WASM heap. */
  weights: number;
  /** `WEIGHT_SLACK` of the weights. */
  weightSlack: number;
  /** Past and present K/V of every layer for `contextTokens` (both live in the heap during a step). */
  kvCache: number;
  /** The widest moment of a `contextTokens` prefill: logits, attention scores and probabilities, MLP. */
  activations: number;
  runtime: number;
  total: number;
  contextTokens: number;
}

/**
 * Peak WASM heap of running `spec` with `weightBytes` of initializers (the fp32 footprint, or
 * a stored graph's size for a packed variant). Counted: the weights plus slack; K/V inputs and
 * outputs for the context (fp32, batch 1, no sliding-window truncation, since the graph keeps
 * the whole past); a prefill of the full context — logits [T, vocab], scores and softmax
 * [heads, T, T], gate, up and their product [T, intermediate] — as if all were live at once;
 * and a fixed runtime allowance. Not counted: the external data's JS copy, which lives
 * outside the heap.
 */
export function estimateWasm(spec: ModelSpec, weightBytes: number, contextTokens = DEFAULT_CONTEXT_TOKENS): WasmEstimate {
  const T = contextTokens;
  const weightSlack = Math.ceil(weightBytes * WEIGHT_SLACK);
  const kvCache = 2 * (2 * spec.numLayers * spec.numKvHeads * spec.headDim * T * F32);
  const logits = T * spec.vocabSize * F32;
  const attention = 2 * spec.numHeads * T * T * F32;
  const mlp = 3 * T * spec.intermediateSize * F32;
  const activations = logits + attention + mlp;
  const total = weightBytes + weightSlack + kvCache + activations + RUNTIME_BYTES;
  return { weights: weightBytes, weightSlack, kvCache, activations, runtime: RUNTIME_BYTES, total, contextTokens: T };
}

export interface GpuBufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export type Verdict = { fits: true } | { fits: false; reason: string };

/** How to get a model that does not fit running anyway. */
export const WAY_OUT_WASM =
  'use WebGPU (device webgpu: the weights then live in GPU memory; with shader-f16 they take half the space), or evaluate one of its 4-bit variants (rtn4, gptq4, awq4)';
export const WAY_OUT_WEBGPU = 'use a GPU whose adapter allows larger buffers, or evaluate one of its 4-bit variants (rtn4, gptq4, awq4)';

/** Whether `label` fits WASM's address space (or `limit`, for tests and smaller budgets). */
export function checkWasm(label: string, est: WasmEstimate, limit = WASM_ADDRESS_SPACE): Verdict {
  if (est.total <= limit) return { fits: true };
  return {
    fits: false,
    reason:
      `${label} needs ≈ ${formatBytes(est.total)} on WASM (weights ${formatBytes(est.weights)} + allocator slack ${formatBytes(est.weightSlack)}, ` +
      `KV cache ${formatBytes(est.kvCache)} and activations ${formatBytes(est.activations)} for ${est.contextTokens} tokens, runtime ${formatBytes(est.runtime)}); ` +
      `WASM allows ${formatBytes(limit)}${limit === WASM_ADDRESS_SPACE ? ' (a 4 GiB address space)' : ''}`,
  };
}

/**
 * Whether every weight fits one WebGPU buffer: ORT binds each initializer whole as a storage
 * buffer, so the largest tensor (often the embedding) must fit both limits. GPU memory as a
 * whole cannot be queried from a page and is not checked.
 */
export function checkWebGpu(label: string, largest: WeightFootprint['largest'], limits: GpuBufferLimits): Verdict {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (largest.bytes <= limit) return { fits: true };
  return {
    fits: false,
    reason:
      `${largest.name} of ${label} takes ${formatBytes(largest.bytes)} as one tensor; this WebGPU adapter allows ` +
      `${formatBytes(limit)} per buffer (maxBufferSize ${formatBytes(limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(limits.maxStorageBufferBindingSize)})`,
  };
}

/** A model refused before any long work because it cannot fit; `message` names figure, limit and way out. */
export class MemoryBudgetError extends Error {
  override name = 'MemoryBudgetError';
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly limitBytes: number,
  ) {
    super(message);
  }
}
