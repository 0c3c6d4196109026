import type { ModelSpec } from '../model/spec';

/**
 * How many sequences go through the model at once during evaluation. A batch shares every
 * step's fixed cost (the JavaScript around a step, ORT's dispatch, reading the weights) among
 * its rows, which is where a small model spends most of its time; what grows with it is the
 * memory each row holds. The rule: as many rows as fit a memory budget at the batch's longest
 * sequence, capped per device.
 */

/** Bytes a batch's rows may take together beyond the weights: on WASM, a share of the 4 GiB heap the weights leave. */
export const BATCH_BUDGET_BYTES: Record<'wasm' | 'webgpu', number> = {
  wasm: 256 * 1024 ** 2,
  webgpu: 1024 ** 3,
};

/**
 * The most rows a batch gets. On WASM the CPU does every row's arithmetic, so past a few rows a
 * step costs about as much per row as rows one at a time (bench:eval); a GPU runs rows in parallel.
 */
export const BATCH_CAP: Record<'wasm' | 'webgpu', number> = { wasm: 8, webgpu: 32 };

const F32 = 4;

/**
 * Bytes one sequence of `tokens` tokens holds at its widest moment, the prefill: past and present
 * K/V of every layer, the logits of every position (transformers.js asks for all of them), one
 * layer's attention scores and probabilities, and one layer's MLP activations (gate, up, product).
 */
export function bytesPerSequence(spec: ModelSpec, tokens: number): number {
  const T = Math.max(1, tokens);
  const kv = 2 * 2 * spec.numLayers * spec.numKvHeads * spec.headDim * T * F32;
  const logits = T * spec.vocabSize * F32;
  const attention = 2 * spec.numHeads * T * T * F32;
  const mlp = 3 * T * spec.intermediateSize * F32;
  return kv + logits + attention + mlp;
}

/**
 * The batch size for sequences of up to `tokens` tokens (prompt plus new tokens) on `device`:
 * ⌊budget / bytesPerSequence⌋, between 1 and the device's cap.
 */
export function chooseBatchSize(spec: ModelSpec, device: 'wasm' | 'webgpu', tokens: number): number {
  const fit = Math.floor(BATCH_BUDGET_BYTES[device] / bytesPerSequence(spec, tokens));
  return Math.max(1, Math.min(BATCH_CAP[device], fit));
}

/** A batch size as a user gives it (`--batch-size`, the planner): a positive integer, or absent for the rule. */
export function checkBatchSize(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new Error(`a batch size is an integer from 1 to 256, not ${value}`);
  return value;
}
