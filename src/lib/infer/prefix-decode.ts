import { Tensor } from '@huggingface/transformers';
import { pastKeyName, prefixKeyName, presentKeyName } from '../onnx';
import type { LoadedLm } from './causal-lm';
import { prefill } from './kv-cache';

/** What the batch decoder needs of an ORT tensor: host data on WASM, a GPU buffer it frees on WebGPU. */
interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
  readonly location: string;
  dispose(): void;
}

/** One step's choice: the next token of every running row from its logits, and which rows are done. */
export interface StepPolicy {
  /**
   * `logits` [rows.length, vocab]: the last position's logits of the rows `rows` (indices into
   * the batch), `step` the index of the token being chosen (0 first); a token id per row.
   */
  next(logits: Float32Array, step: number, rows: readonly number[]): number[];
  /** Every row's tokens so far in; whether each row is done. */
  done(generated: readonly number[][]): boolean[];
}

const ort = (t: Tensor) => t.ort_tensor as unknown as OrtTensor;
const int64 = (data: BigInt64Array, dims: number[]) => ort(new Tensor('int64', data, dims));

/**
 * Generation for rows that share their first `P` tokens, run on the session directly: the prefix
 * goes through the model once and its keys and values stay one batch-1 copy
 * (`prefix_key_values`); each row's own tokens, left-padded to the longest, and every new token
 * attend to it. A step therefore moves the prefix once and each row's own cache, instead of a
 * copy of the whole prompt per row. Positions count on from the prefix as in the row alone.
 * A row that is done leaves the batch when its cache is in host memory (WASM); on the GPU it
 * rides along. Runs up to `budget` steps; returns the tokens chosen per row.
 */
export async function decodeOverPrefix(
  lm: LoadedLm,
  prompts: readonly (readonly number[])[],
  P: number,
  pad: bigint,
  budget: number,
  policy: StepPolicy,
): Promise<number[][]> {
  const { spec, session } = lm;
  const B = prompts.length;
  const { cache } = await prefill(lm, prompts[0].slice(0, P));
  const shared: Record<string, OrtTensor> = {};
  const prefixDims = [1, spec.numKvHeads, P, spec.headDim];
  cache.layers.forEach(({ key, value }, i) => {
    shared[prefixKeyName(i, 'key')] = ort(new Tensor('float32', key, prefixDims));
    shared[prefixKeyName(i, 'value')] = ort(new Tensor('float32', value, prefixDims));
  });
  const own = prompts.map((p) => p.slice(P));
  const W = Math.max(...own.map((o) => o.length));
  const ids = new BigInt64Array(B * W).fill(pad);
  const positions = new BigInt64Array(B * W).fill(BigInt(P));
  let maskRows: bigint[][] = own.map((o) => [
    ...new Array<bigint>(P).fill(1n),
    ...new Array<bigint>(W - o.length).fill(0n),
    ...new Array<bigint>(o.length).fill(1n),
  ]);
  own.forEach((o, b) =>
    o.forEach((id, j) => {
      ids[b * W + W - o.length + j] = BigInt(id);
      positions[b * W + W - o.length + j] = BigInt(P + j);
    }),
  );
  let past: Record<string, OrtTensor> = {};
  const emptyDims = [B, spec.numKvHeads, 0, spec.headDim];
  for (let i = 0; i < spec.numLayers; i++)
    for (const kind of ['key', 'value'] as const) past[pastKeyName(i, kind)] = ort(new Tensor('float32', new Float32Array(0), emptyDims));
  const generated: number[][] = prompts.map(() => []);
  /** The batch's rows still running, as indices into `prompts`. */
  let running = prompts.map((_, b) => b);
  let input = int64(ids, [B, W]);
  let position = int64(positions, [B, W]);
  const keep = int64(BigInt64Array.of(1n), []);
  try {
    for (let step = 0; step < budget; step++) {
      const mask = int64(BigInt64Array.from(maskRows.flat()), [running.length, maskRows[0].length]);
      const out = (await session.run({
        ...shared,
        ...past,
        input_ids: input,
        attention_mask: mask,
        position_ids: position,
        num_logits_to_keep: keep,
      })) as Record<string, OrtTensor>;
      if (step > 0) for (const t of Object.values(past)) t.dispose();
      past = {};
      for (let i = 0; i < spec.numLayers; i++)
        for (const kind of ['key', 'value'] as const) past[pastKeyName(i, kind)] = out[presentKeyName(i, kind)];
      const next = policy.next(out.logits.data as Float32Array, step, running);
      out.logits.dispose();
      next.forEach((id, k) => generated[running[k]].push(id));
      const done = policy.done(generated);
      if (done.every(Boolean)) break;
      let keepRows = running.map((b, k) => (done[b] ? -1 : k)).filter((k) => k >= 0);
      if (keepRows.length === running.length || Object.values(past).some((t) => t.location !== 'cpu')) keepRows = running.map((_, k) => k);
      else past = Object.fromEntries(Object.entries(past).map(([name, t]) => [name, pickRows(t, keepRows)]));
      running = keepRows.map((k) => running[k]);
      maskRows = keepRows.map((k) => [...maskRows[k], 1n]);
      input = int64(
        BigInt64Array.from(keepRows, (k) => BigInt(next[k])),
        [running.length, 1],
      );
      position = int64(
        BigInt64Array.from(running, (b) => BigInt(P + own[b].length + generated[b].length - 1)),
        [running.length, 1],
      );
    }
  } finally {
    for (const t of Object.values(past)) t.dispose();
  }
  return generated;
}

/** The rows `keep` of a host tensor [rows, …] as a new tensor. */
function pickRows(t: OrtTensor, keep: readonly number[]): OrtTensor {
  const data = t.data as Float32Array;
  const size = data.length / t.dims[0];
  const out = new Float32Array(keep.length * size);
  keep.forEach((k, r) => out.set(data.subarray(k * size, (k + 1) * size), r * size));
  return ort(new Tensor('float32', out, [keep.length, ...t.dims.slice(1)]));
}
