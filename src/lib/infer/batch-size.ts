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
 * The most rows a batch gets. On WASM the CPU does every row's arithmetic, so once a step's rows
 * cost more than its fixed part (the JavaScript around it, ORT's dispatch of every node) a
 * bigger batch gains nothing (bench:eval: SmolLM2-135M's shape at 8); a model of a few hundred
 * thousand multiply-adds per token (stories260k) is all fixed cost and keeps gaining past 32 rows.
 * A GPU runs rows in parallel.
 */
export const BATCH_CAP: Record<'wasm' | 'webgpu', number> = { wasm: 64, webgpu: 32 };

/** The fewest rows the WASM cap comes down to, whatever the model's size. */
export const WASM_MIN_CAP = 8;

/**
 * Multiply-adds a WASM step's fixed cost is worth: a model of `n` multiply-adds per token gets up
 * to this / n rows (a power of two, between `WASM_MIN_CAP` and `BATCH_CAP.wasm`).
 */
export const WASM_STEP_MACS = 32e6;

/** Multiply-adds of one token through the linear layers and the LM head (attention over the context aside). */
export function macsPerToken(spec: ModelSpec): number {
  const { hiddenSize: H, numHeads: NH, numKvHeads: KVH, headDim: D, intermediateSize: I } = spec;
  const layer = H * NH * D + 2 * H * KVH * D + NH * D * H + 3 * H * I;
  return spec.numLayers * layer + spec.vocabSize * H;
}

/** The device's cap for this model: on WASM, as many rows as the step's fixed cost pays for. */
export function batchCap(spec: ModelSpec, device: 'wasm' | 'webgpu'): number {
  if (device === 'webgpu') return BATCH_CAP.webgpu;
  const rows = 2 ** Math.floor(Math.log2(Math.max(1, WASM_STEP_MACS / macsPerToken(spec))));
  return Math.max(WASM_MIN_CAP, Math.min(BATCH_CAP.wasm, rows));
}

const F32 = 4;

/**
 * Positions whose logits a batched row keeps: generation and a prompt's pass keep the last one
 * (`num_logits_to_keep`), and an option row those of its option's tokens, which are a few words.
 */
export const KEPT_LOGITS = 8;

/**
 * Bytes one sequence of `tokens` tokens holds at its widest moment, the prefill: past and present
 * K/V of every layer, the logits it keeps (`KEPT_LOGITS` positions), one layer's attention scores
 * and probabilities, and one layer's MLP activations (gate, up, product). A pass that keeps every
 * position's logits sizes its own rows (`logitRows`).
 */
export function bytesPerSequence(spec: ModelSpec, tokens: number): number {
  const T = Math.max(1, tokens);
  const kv = 2 * 2 * spec.numLayers * spec.numKvHeads * spec.headDim * T * F32;
  const logits = Math.min(T, KEPT_LOGITS) * spec.vocabSize * F32;
  const attention = 2 * spec.numHeads * T * T * F32;
  const mlp = 3 * T * spec.intermediateSize * F32;
  return kv + logits + attention + mlp;
}

/**
 * Rows of `tokens` tokens whose logits at every position fit the device's budget (at least one):
 * the bound for a pass that scores every position, such as an option scored with its whole prompt.
 */
export function logitRows(spec: ModelSpec, device: 'wasm' | 'webgpu', tokens: number): number {
  return Math.max(1, Math.floor(BATCH_BUDGET_BYTES[device] / (Math.max(1, tokens) * spec.vocabSize * F32)));
}

/**
 * The batch size for sequences of up to `tokens` tokens (prompt plus new tokens) on `device`:
 * ⌊budget / bytesPerSequence⌋, between 1 and the device's cap for the model (`batchCap`).
 */
export function chooseBatchSize(spec: ModelSpec, device: 'wasm' | 'webgpu', tokens: number): number {
  const fit = Math.floor(BATCH_BUDGET_BYTES[device] / bytesPerSequence(spec, tokens));
  return Math.max(1, Math.min(batchCap(spec, device), fit));
}

/** A batch size as a user gives it (`--batch-size`, the planner): a positive integer, or absent for the rule. */
export function checkBatchSize(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new Error(`a batch size is an integer from 1 to 256, not ${value}`);
  return value;
}
