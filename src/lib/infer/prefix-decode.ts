import { Tensor } from '@huggingface/transformers';
import { pastKeyName, prefixKeyName } from '../onnx';
import type { LoadedLm } from './causal-lm';
import { prefill } from './kv-cache';
import { emptyKv, emptyPrefixFeeds, givesNewKeys, newKeyNames, prefixInputNames, takesPrefix } from './prefix-session';
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
  const { spec } = lm;
  const B = prompts.length;
  const shared = await prefixFeeds(lm, prompts[0], P);
  const own = prompts.map((p) => p.length - P);
  const W = Math.max(...own);
  const cache: StepCache = keepsHostCache(lm) ? new HostStepCache(spec, B, W + budget) : new PresentStepCache(spec, B);
  const first = ownTokens(prompts, P, W, pad);
  return stepLoop(lm, cache, {
    rows: B,
    shared,
    first,
    budget,
    policy,
    mask: (running, step) => stepMask(running, own, P, W, step),
    position: (b, generated) => P + own[b] + generated - 1,
  });
}

/** Rows of one prompt family: their prompts and the prefix of `P` tokens they share (0: none). */
export interface PromptFamily {
  prompts: readonly (readonly number[])[];
  P: number;
}

/**
 * Generation for rows of several families at once, on a host-memory cache (`keepsHostCache`):
 * each family's prefix runs once and its rows' own tokens once over it (as `decodeOverPrefix`
 * starts), then every row's prefix and own keys and values are laid out in one cache, each row
 * right-aligned to the longest with the gap masked, and the new tokens of all families go through
 * the model together. A step's fixed cost, most of a small model's, is then paid once for rows
 * that would otherwise decode in a batch per family. Rows are numbered family by family.
 */
export async function decodeFamilies(
  lm: LoadedLm,
  families: readonly PromptFamily[],
  pad: bigint,
  budget: number,
  policy: StepPolicy,
): Promise<number[][]> {
  const { spec, session } = lm;
  const { numKvHeads: KVH, headDim: D, vocabSize: V } = spec;
  // Layer by layer, key then value, in every naming: the cache's tensor n is each list's n-th.
  const names = newKeyNames(spec);
  const pastNames = names.map((_, n) => pastKeyName(n >> 1, n & 1 ? 'value' : 'key'));
  const prefixNames = prefixInputNames(spec);
  const B = families.reduce((n, f) => n + f.prompts.length, 0);
  // Per row: its family, its index there, the family's prefix and own width, its own length.
  const rows: { f: number; k: number; P: number; W: number; own: number }[] = [];
  const starts: { logits: Float32Array; prefix: Float32Array[]; fresh: Float32Array[] }[] = [];
  for (const [f, { prompts, P }] of families.entries()) {
    const shared = await prefixFeeds(lm, prompts[0], P);
    const own = prompts.map((p) => p.length - P);
    const W = Math.max(...own);
    own.forEach((o, k) => rows.push({ f, k, P, W, own: o }));
    const { input, position } = ownTokens(prompts, P, W, pad);
    const out = (await session.run(
      {
        ...shared,
        ...Object.fromEntries(pastNames.map((n) => [n, emptyKv(spec, prompts.length) as OrtTensor])),
        input_ids: input,
        attention_mask: stepMask(
          prompts.map((_, k) => k),
          own,
          P,
          W,
          0,
        ),
        position_ids: position,
        num_logits_to_keep: int64(BigInt64Array.of(1n), []),
      },
      ['logits', ...names],
    )) as Record<string, OrtTensor>;
    const prefix = prefixNames.map((n) => (P > 0 ? ((shared[n] as OrtTensor).data as Float32Array) : new Float32Array(0)));
    starts.push({ logits: out.logits.data as Float32Array, prefix, fresh: names.map((n) => out[n].data as Float32Array) });
  }
  // Every row's cache ends at T: [gap | prefix | own padding | own tokens].
  const T = Math.max(...rows.map((r) => r.P + r.W));
  const cache = new HostStepCache(spec, B, T + budget);
  cache.preset(T, (n, b, h, block) => {
    const { f, k, P, W } = rows[b];
    const { prefix, fresh } = starts[f];
    if (P > 0) block.set(prefix[n].subarray(h * P * D, (h + 1) * P * D), (T - W - P) * D);
    block.set(fresh[n].subarray((k * KVH + h) * W * D, (k * KVH + h + 1) * W * D), (T - W) * D);
  });
  const logits = new Float32Array(B * V);
  rows.forEach(({ f, k }, b) => logits.set(starts[f].logits.subarray(k * V, (k + 1) * V), b * V));
  return stepLoop(lm, cache, {
    rows: B,
    shared: emptyPrefixFeeds(spec),
    first: { logits },
    budget,
    policy,
    mask: (running, step) => {
      const width = T + step;
      const mask = new BigInt64Array(running.length * width).fill(1n);
      running.forEach((b, r) => {
        const { P, W, own } = rows[b];
        mask.fill(0n, r * width, r * width + T - W - P);
        mask.fill(0n, r * width + T - W, r * width + T - own);
      });
      return int64(mask, [running.length, width]);
    },
    position: (b, generated) => rows[b].P + rows[b].own + generated - 1,
  });
}

/** The rows' own tokens after the prefix, left-padded to `W`, and their positions (counting on from the prefix). */
function ownTokens(prompts: readonly (readonly number[])[], P: number, W: number, pad: bigint): { input: OrtTensor; position: OrtTensor } {
  const B = prompts.length;
  const ids = new BigInt64Array(B * W).fill(pad);
  const positions = new BigInt64Array(B * W).fill(BigInt(P));
  prompts.forEach((p, b) => {
    const own = p.length - P;
    for (let j = 0; j < own; j++) {
      ids[b * W + W - own + j] = BigInt(p[P + j]);
      positions[b * W + W - own + j] = BigInt(P + j);
    }
  });
  return { input: int64(ids, [B, W]), position: int64(positions, [B, W]) };
}

interface LoopPlan {
  rows: number;
  /** Feeds every step shares (the prefix, or its empty form). */
  shared: Record<string, unknown>;
  /** The first step: the rows' own tokens to run, or the logits a run of them already gave ([rows, vocab]). */
  first: { input: OrtTensor; position: OrtTensor } | { logits: Float32Array };
  budget: number;
  policy: StepPolicy;
  /** The attention mask of step `step` (≥ 1 when the first logits were given) for the running rows. */
  mask(running: readonly number[], step: number): OrtTensor;
  /** The position of row `b`'s newest token once it has `generated` tokens. */
  position(b: number, generated: number): number;
}

/** The decoding loop over a step cache: a token per running row per step, rows leaving as they finish where the cache allows. */
async function stepLoop(lm: LoadedLm, cache: StepCache, plan: LoopPlan): Promise<number[][]> {
  const { session } = lm;
  const fetches = ['logits', ...cache.fetches];
  const B = plan.rows;
  const generated: number[][] = Array.from({ length: B }, () => []);
  /** The batch's rows still running, as indices into the batch. */
  let running = generated.map((_, b) => b);
  let input = 'input' in plan.first ? plan.first.input : null;
  let position = 'input' in plan.first ? plan.first.position : null;
  const keep = int64(BigInt64Array.of(1n), []);
  try {
    for (let step = 0; step < plan.budget; step++) {
      let logits: Float32Array;
      let out: Record<string, OrtTensor> | null = null;
      if (step === 0 && 'logits' in plan.first) logits = plan.first.logits;
      else {
        out = (await session.run(
          {
            ...plan.shared,
            ...cache.feeds(),
            input_ids: input!,
            attention_mask: plan.mask(running, step),
            position_ids: position!,
            num_logits_to_keep: keep,
          },
          fetches,
        )) as Record<string, OrtTensor>;
        cache.update(out);
        logits = out.logits.data as Float32Array;
      }
      const next = plan.policy.next(logits, step, running);
      out?.logits.dispose();
      next.forEach((id, k) => generated[running[k]].push(id));
      const done = plan.policy.done(generated);
      if (done.every(Boolean)) break;
      let keepRows = running.map((b, k) => (done[b] ? -1 : k)).filter((k) => k >= 0);
      if (keepRows.length === running.length || !cache.keep(keepRows)) keepRows = running.map((_, k) => k);
      running = keepRows.map((k) => running[k]);
      input = int64(
        BigInt64Array.from(keepRows, (k) => BigInt(next[k])),
        [running.length, 1],
      );
      position = int64(
        BigInt64Array.from(running, (b) => BigInt(plan.position(b, generated[b].length))),
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
