import { Tensor } from '@huggingface/transformers';
import { pastKeyName, presentKeyName } from '../onnx';
import type { LoadedLm } from './causal-lm';

/** The model called the way transformers.js calls it: named inputs in, named outputs back. */
export type Forward = (x: Record<string, unknown>) => Promise<Record<string, Tensor>>;

export function forwardOf(lm: LoadedLm): Forward {
  return lm.model as unknown as Forward;
}

/**
 * Fewest tokens a batch's prompts must share before the shared part gets a pass of its own:
 * below it the extra call costs more than the attention it saves.
 */
export const MIN_SHARED_PREFIX = 16;

/** Length of the longest token prefix every row starts with. */
/** Token sequences in lexicographic order (a prefix before its extensions). */
export function compareIds(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let j = 0; j < n; j++) if (a[j] !== b[j]) return a[j] - b[j];
  return a.length - b.length;
}

export function commonPrefixLength(rows: readonly (readonly number[])[]): number {
  if (rows.length === 0) return 0;
  let n = Math.min(...rows.map((r) => r.length));
  const first = rows[0];
  for (const row of rows) {
    let k = 0;
    while (k < n && row[k] === first[k]) k++;
    n = k;
  }
  return n;
}

/**
 * The tokens of a batch that get a pass of their own before the rest: the prefix every row
 * shares, short of each row's last token (a row needs one token of its own, whose logits it
 * reads), and none when it is under `MIN_SHARED_PREFIX` or there is one row.
 */
export function sharedPrefixLength(rows: readonly (readonly number[])[]): number {
  if (rows.length < 2) return 0;
  const n = Math.min(commonPrefixLength(rows), Math.min(...rows.map((r) => r.length)) - 1);
  return n >= MIN_SHARED_PREFIX ? n : 0;
}

/** Every layer's keys and values, each [rows, kvHeads, length, headDim] float32 in host memory. */
export interface KvCache {
  rows: number;
  length: number;
  kvHeads: number;
  headDim: number;
  layers: { key: Float32Array; value: Float32Array }[];
}

/** A tensor's float32 data in host memory; a WebGPU output is downloaded and its buffer freed. */
async function hostData(t: Tensor): Promise<Float32Array> {
  if (t.location !== 'gpu-buffer') return t.data as Float32Array;
  const ort = (t as unknown as { ort_tensor: { getData(release?: boolean): Promise<Float32Array> } }).ort_tensor;
  return ort.getData(true);
}

/** Frees the outputs of a pass that stayed on the GPU (WebGPU keeps the cache there); host outputs are the collector's. */
export function disposeDeviceOutputs(out: Record<string, Tensor>): void {
  for (const t of Object.values(out)) if (t.location === 'gpu-buffer') t.dispose();
}

/** The `present.*` outputs of a forward pass as a host cache. */
export async function readCache(lm: LoadedLm, out: Record<string, Tensor>): Promise<KvCache> {
  const layers = [];
  for (let i = 0; i < lm.spec.numLayers; i++) {
    layers.push({ key: await hostData(out[presentKeyName(i, 'key')]), value: await hostData(out[presentKeyName(i, 'value')]) });
  }
  const [rows, kvHeads, length, headDim] = out[presentKeyName(0, 'key')].dims;
  return { rows, length, kvHeads, headDim, layers };
}

/**
 * The graph's past inputs for a batch whose row b continues the cache's row `picks[b]`: rows are
 * copied, so one cached prompt can feed many rows.
 */
export function pastFeeds(cache: KvCache, picks: readonly number[]): Record<string, Tensor> {
  const size = cache.kvHeads * cache.length * cache.headDim;
  const dims = [picks.length, cache.kvHeads, cache.length, cache.headDim];
  const feeds: Record<string, Tensor> = {};
  const gather = (data: Float32Array) => {
    const out = new Float32Array(picks.length * size);
    picks.forEach((p, b) => out.set(data.subarray(p * size, (p + 1) * size), b * size));
    return new Tensor('float32', out, dims);
  };
  cache.layers.forEach(({ key, value }, i) => {
    feeds[pastKeyName(i, 'key')] = gather(key);
    feeds[pastKeyName(i, 'value')] = gather(value);
  });
  return feeds;
}

const ids64 = (ids: readonly number[]) => BigInt64Array.from(ids, (v) => BigInt(v));

/** One sequence through the model: its cache and its last position's logits. */
export async function prefill(lm: LoadedLm, ids: readonly number[]): Promise<{ cache: KvCache; lastLogits: Float32Array }> {
  const out = await forwardOf(lm)({
    input_ids: new Tensor('int64', ids64(ids), [1, ids.length]),
    attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    // Only the last position's logits are read (a graph built before the input gives them all).
    num_logits_to_keep: new Tensor('int64', BigInt64Array.of(1n), []),
  });
  const logits = out.logits.data as Float32Array;
  return { cache: await readCache(lm, out), lastLogits: logits.slice(logits.length - lm.spec.vocabSize) };
}

/** A batch of prompts through the model: each row's cache, which of its positions are real, and its last logits. */
export interface ContextBatch {
  cache: KvCache;
  /** [rows, cache.length], 1 where a position holds a real token, 0 for padding. */
  mask: BigInt64Array;
  /** [rows, vocab] */
  lastLogits: Float32Array;
}

/**
 * Several prompts through the model at once. Their shared prefix (`sharedPrefixLength`) runs
 * once; each row's remaining tokens follow it, left-padded to the longest remainder, over copies
 * of the prefix's cache, so the padding sits between the prefix and the row's own tokens and the
 * mask keeps it out of every view (transformers.js counts positions from the mask, so a row's
 * tokens keep the positions they have alone).
 */
export async function contextBatch(lm: LoadedLm, contexts: readonly (readonly number[])[]): Promise<ContextBatch> {
  const B = contexts.length;
  const P = sharedPrefixLength(contexts);
  const prefix = P > 0 ? await prefill(lm, contexts[0].slice(0, P)) : null;
  const W = Math.max(...contexts.map((c) => c.length - P));
  const ids = new BigInt64Array(B * W).fill(BigInt(lm.spec.eosTokenIds[0] ?? 0));
  const mask = new BigInt64Array(B * (P + W));
  contexts.forEach((c, b) => {
    const own = c.length - P;
    for (let j = 0; j < own; j++) ids[b * W + W - own + j] = BigInt(c[P + j]);
    mask.fill(1n, b * (P + W), b * (P + W) + P);
    mask.fill(1n, (b + 1) * (P + W) - own, (b + 1) * (P + W));
  });
  const out = await forwardOf(lm)({
    input_ids: new Tensor('int64', ids, [B, W]),
    attention_mask: new Tensor('int64', mask, [B, P + W]),
    num_logits_to_keep: new Tensor('int64', BigInt64Array.of(1n), []),
    ...(prefix ? { past_key_values: pastFeeds(prefix.cache, new Array<number>(B).fill(0)) } : {}),
  });
  const logits = out.logits.data as Float32Array;
  const V = lm.spec.vocabSize;
  const lastLogits = new Float32Array(B * V);
  // [B, 1, V] from a graph with num_logits_to_keep; [B, W, V] from one built before it.
  const kept = logits.length / (B * V);
  for (let b = 0; b < B; b++) lastLogits.set(logits.subarray((b * kept + kept - 1) * V, (b * kept + kept) * V), b * V);
  return { cache: await readCache(lm, out), mask, lastLogits };
}
