import * as ort from 'onnxruntime-web/webgpu';
// The asyncify build is the one `onnxruntime-web/webgpu` (and so transformers.js) loads; `?url`
// makes Vite serve the package's own files, so nothing is fetched from a CDN.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import type { ModelSpec } from '../../../src/lib/model/spec';
import type { BuiltGraph } from '../../../src/lib/onnx/graph-builder';

ort.env.wasm.wasmPaths = { wasm: wasmUrl, mjs: mjsUrl };
// Threads need SharedArrayBuffer (cross-origin isolation), which the test page does not have.
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

export { ort };
export type Ep = 'wasm' | 'webgpu';

/**
 * Create sessions one at a time: onnxruntime-web mounts `externalData` files by path in one
 * shared virtual file system, so two concurrent creations whose data is called `model.onnx_data`
 * load each other's weights (seen here: the first session silently ran the second's weights).
 */
export async function createSession(built: BuiltGraph, ep: Ep): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(built.model, {
    executionProviders: [ep],
    externalData: built.externalData.map(({ path, data }) => ({ path, data })),
    logSeverityLevel: 3,
  });
}

export function int64(values: readonly number[], dims: number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}

export function float32(values: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', values, dims);
}

export async function floats(t: ort.Tensor): Promise<Float32Array> {
  return (await t.getData()) as Float32Array;
}

/** int64 scalar `num_logits_to_keep`: logits of the last `k` positions, of all for 0. */
export function logitsToKeep(k: number): ort.Tensor {
  return int64([k], []);
}

/** Inputs for one forward pass of a single sequence without cache (empty past); logits of every position unless `keep`. */
export function fullSequenceFeeds(spec: ModelSpec, ids: readonly number[], keep = 0): Record<string, ort.Tensor> {
  const S = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids, [1, S]),
    attention_mask: int64(new Array(S).fill(1), [1, S]),
    position_ids: int64(
      ids.map((_, i) => i),
      [1, S],
    ),
    num_logits_to_keep: logitsToKeep(keep),
  };
  for (let i = 0; i < spec.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kind}`] = float32(new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
    }
  }
  return { ...feeds, ...noPrefixFeeds(spec) };
}

/** The shared-prefix inputs, empty: the graph is then the plain decoder. */
export function noPrefixFeeds(spec: ModelSpec): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < spec.numLayers; i++)
    for (const kind of ['key', 'value'])
      feeds[`prefix_key_values.${i}.${kind}`] = float32(new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
  return feeds;
}

/** Runs the causal LM on one sequence and returns logits [S, vocab]. */
export async function runLogits(session: ort.InferenceSession, spec: ModelSpec, ids: readonly number[]): Promise<Float32Array> {
  const out = await session.run(fullSequenceFeeds(spec, ids));
  const logits = await floats(out.logits);
  for (const t of Object.values(out)) t.dispose();
  return logits;
}

/** Greedy decoding with the KV cache: prefill `prompt`, then one token at a time. */
export async function greedy(
  session: ort.InferenceSession,
  spec: ModelSpec,
  prompt: readonly number[],
  newTokens: number,
): Promise<number[]> {
  const ids = [...prompt];
  // As in generation: the prefill's logits of the last position only.
  let feeds = fullSequenceFeeds(spec, prompt, 1);
  for (let step = 0; step < newTokens; step++) {
    const out = await session.run(feeds);
    const logits = await floats(out.logits);
    const S = logits.length / spec.vocabSize;
    const next = argmax(logits.subarray((S - 1) * spec.vocabSize));
    out.logits.dispose();
    ids.push(next);
    const total = ids.length;
    feeds = {
      input_ids: int64([next], [1, 1]),
      attention_mask: int64(new Array(total).fill(1), [1, total]),
      position_ids: int64([total - 1], [1, 1]),
      num_logits_to_keep: logitsToKeep(1),
      ...noPrefixFeeds(spec),
    };
    for (let i = 0; i < spec.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = out[`present.${i}.key`];
      feeds[`past_key_values.${i}.value`] = out[`present.${i}.value`];
    }
  }
  return ids;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** max |a − b| / (max |b| + 1e-6): a relative error in the scale of the reference. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale + 1e-6);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff;
}
