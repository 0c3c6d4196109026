import { Tensor } from '@huggingface/transformers';
import { prefixKeyName } from '../onnx';
import type { LoadedLm } from './causal-lm';
import { prefill } from './kv-cache';
import { emptyPrefixFeeds, givesNewKeys, takesPrefix } from './prefix-session';
import { HostStepCache, ortOf, PresentStepCache, type OrtTensor, type StepCache } from './step-cache';

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

const int64 = (data: BigInt64Array, dims: number[]) => ortOf(new Tensor('int64', data, dims));

/**
 * Generation for rows that share their first `P` tokens (0: none), run on the session directly:
 * the prefix goes through the model once and its keys and values stay one batch-1 copy
 * (`prefix_key_values`); each row's own tokens, left-padded to the longest, and every new token
 * attend to it. A step therefore moves the prefix once and each row's own cache, instead of a
 * copy of the whole prompt per row. Positions count on from the prefix as in the row alone.
 * On WASM a graph with `new_key_values` keeps the rows' cache in host memory (`HostStepCache`);
 * otherwise it is carried as the graph's `present`. A row that is done leaves the batch when its
 * cache is in host memory; on the GPU it rides along. Runs up to `budget` steps; returns the
 * tokens chosen per row.
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
  const shared = await prefixFeeds(lm, prompts[0], P);
  const own = prompts.map((p) => p.length - P);
  const W = Math.max(...own);
  const ids = new BigInt64Array(B * W).fill(pad);
  const positions = new BigInt64Array(B * W).fill(BigInt(P));
  prompts.forEach((p, b) => {
    for (let j = 0; j < own[b]; j++) {
      ids[b * W + W - own[b] + j] = BigInt(p[P + j]);
      positions[b * W + W - own[b] + j] = BigInt(P + j);
    }
  });
  const cache: StepCache = keepsHostCache(lm) ? new HostStepCache(spec, B, W + budget) : new PresentStepCache(spec, B);
  const fetches = ['logits', ...cache.fetches];
  const generated: number[][] = prompts.map(() => []);
  /** The batch's rows still running, as indices into `prompts`. */
  let running = prompts.map((_, b) => b);
  let input = int64(ids, [B, W]);
  let position = int64(positions, [B, W]);
  const keep = int64(BigInt64Array.of(1n), []);
  try {
    for (let step = 0; step < budget; step++) {
      const out = (await session.run(
        {
          ...shared,
          ...cache.feeds(),
          input_ids: input,
          attention_mask: stepMask(running, own, P, W, step),
          position_ids: position,
          num_logits_to_keep: keep,
        },
        fetches,
      )) as Record<string, OrtTensor>;
      cache.update(out);
      const next = policy.next(out.logits.data as Float32Array, step, running);
      out.logits.dispose();
      next.forEach((id, k) => generated[running[k]].push(id));
      const done = policy.done(generated);
      if (done.every(Boolean)) break;
      let keepRows = running.map((b, k) => (done[b] ? -1 : k)).filter((k) => k >= 0);
      if (keepRows.length === running.length || !cache.keep(keepRows)) keepRows = running.map((_, k) => k);
      running = keepRows.map((k) => running[k]);
      input = int64(
        BigInt64Array.from(keepRows, (k) => BigInt(next[k])),
        [running.length, 1],
      );
      position = int64(
        BigInt64Array.from(running, (b) => BigInt(P + own[b] + generated[b].length - 1)),
        [running.length, 1],
      );
    }
  } finally {
    cache.dispose();
  }
  return generated;
}

/**
 * Whether the batch decoder keeps the rows' cache in host memory: on WASM, with a graph that hands
 * back each pass's keys and values. Then it is the cheaper way to run any batch, prefix or not.
 */
export function keepsHostCache(lm: LoadedLm): boolean {
  return lm.device === 'wasm' && takesPrefix(lm.session, lm.spec) && givesNewKeys(lm.session, lm.spec);
}

/** The prefix's keys and values for `prefix_key_values` after one pass of its `P` tokens; empty when `P` is 0. */
async function prefixFeeds(lm: LoadedLm, prompt: readonly number[], P: number): Promise<Record<string, unknown>> {
  if (P === 0) return emptyPrefixFeeds(lm.spec);
  const { spec } = lm;
  const { cache } = await prefill(lm, prompt.slice(0, P));
  const dims = [1, spec.numKvHeads, P, spec.headDim];
  const feeds: Record<string, unknown> = {};
  cache.layers.forEach(({ key, value }, i) => {
    feeds[prefixKeyName(i, 'key')] = ortOf(new Tensor('float32', key, dims));
    feeds[prefixKeyName(i, 'value')] = ortOf(new Tensor('float32', value, dims));
  });
  return feeds;
}

/**
 * The attention mask of step `step` for the rows `running`: the prefix, the row's padding (0),
 * its own tokens, then one position per step before this one.
 */
function stepMask(running: readonly number[], own: readonly number[], P: number, W: number, step: number): OrtTensor {
  const width = P + W + step;
  const mask = new BigInt64Array(running.length * width).fill(1n);
  running.forEach((b, r) => mask.fill(0n, r * width + P, r * width + P + W - own[b]));
  return int64(mask, [running.length, width]);
}
