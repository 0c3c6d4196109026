import { logitRows } from './batch-size';
import type { LoadedLm } from './causal-lm';
import { contextBatch, pastFeeds } from './kv-cache';
import { logitsPass } from './logits-pass';

/** Logits of every position for one sequence, [ids.length, vocab], from one forward pass. */
export async function forwardLogits(lm: LoadedLm, ids: readonly number[]): Promise<Float32Array> {
  if (ids.length > lm.spec.maxPositions) {
    throw new Error(`${ids.length} tokens exceed the context of ${lm.label} (${lm.spec.maxPositions}); use a sliding window`);
  }
  const logits = await logitsPass(lm, {
    ids: BigInt64Array.from(ids, (v) => BigInt(v)),
    rows: 1,
    width: ids.length,
    mask: new BigInt64Array(ids.length).fill(1n),
  });
  return logits.length === ids.length * lm.spec.vocabSize ? logits : logits.slice(0, ids.length * lm.spec.vocabSize);
}

/**
 * Logits of several sequences in one forward pass, right-padded to the longest with an attention
 * mask: row r's logits at position t are `out[r][t]`, [rows, width, vocab] with `width` the
 * longest length. Padding sits after every real token, so the causal mask already keeps it out
 * of every real position's view; the mask gives each row its positions.
 */
export async function forwardLogitsBatch(
  lm: LoadedLm,
  rows: readonly (readonly number[])[],
): Promise<{ logits: Float32Array; width: number }> {
  const width = Math.max(...rows.map((r) => r.length));
  if (width > lm.spec.maxPositions) {
    throw new Error(`${width} tokens exceed the context of ${lm.label} (${lm.spec.maxPositions}); use a sliding window`);
  }
  const pad = BigInt(lm.spec.eosTokenIds[0] ?? 0);
  const ids = new BigInt64Array(rows.length * width).fill(pad);
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => {
    row.forEach((id, t) => (ids[r * width + t] = BigInt(id)));
    mask.fill(1n, r * width, r * width + row.length);
  });
  const data = await logitsPass(lm, { ids, rows: rows.length, width, mask });
  const size = rows.length * width * lm.spec.vocabSize;
  return { logits: data.length === size ? data : data.slice(0, size), width };
}

/** log softmax of one row, in float64 so long sums of small terms stay exact enough. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

export interface PerplexityResult {
  meanNll: number;
  ppl: number;
  /** Predicted tokens the mean is over. */
  tokens: number;
  /** Logits of the last position (all of them), for checks against reference numbers. */
  lastLogits: Float32Array;
  /** Natural-log probability of each predicted token, in order. */
  tokenLogProbs: number[];
}

export interface WindowOptions {
  /** Tokens per forward pass (default: the model's context, at most 1024). */
  window?: number;
  /** New tokens per step after the first window (default window/2). */
  stride?: number;
}

/**
 * Mean next-token NLL over a text (BOS added as the tokenizer does), with a sliding window
 * when the text is longer than the context: every token after the first is scored exactly once,
 * with up to `window − stride` tokens of left context.
 */
export async function perplexity(lm: LoadedLm, text: string, opts: WindowOptions = {}): Promise<PerplexityResult> {
  const ids = lm.tokenizer.encode(text);
  return perplexityOfIds(lm, ids, opts);
}

export async function perplexityOfIds(lm: LoadedLm, ids: readonly number[], opts: WindowOptions = {}): Promise<PerplexityResult> {
  if (ids.length < 2) throw new Error('perplexity needs at least two tokens');
  const V = lm.spec.vocabSize;
  const window = Math.min(opts.window ?? Math.min(lm.spec.maxPositions, 1024), lm.spec.maxPositions);
  const stride = Math.max(1, Math.min(opts.stride ?? Math.floor(window / 2), window - 1));
  const logProbs: number[] = [];
  let lastLogits = new Float32Array(V);
  let scoredUpTo = 1; // next target index to score
  for (let start = 0; scoredUpTo < ids.length; start += stride) {
    const end = Math.min(ids.length, start + window);
    const logits = await forwardLogits(lm, ids.slice(start, end));
    for (let t = Math.max(scoredUpTo, start + 1); t < end; t++) {
      const row = logits.subarray((t - 1 - start) * V, (t - start) * V);
      logProbs.push(logSoftmax(row)[ids[t]]);
    }
    scoredUpTo = end;
    lastLogits = logits.slice((end - 1 - start) * V, (end - start) * V);
    if (end === ids.length) break;
  }
  const meanNll = -logProbs.reduce((a, b) => a + b, 0) / logProbs.length;
  return { meanNll, ppl: Math.exp(meanNll), tokens: logProbs.length, lastLogits, tokenLogProbs: logProbs };
}

export interface OptionScores {
  /** Sum of the log-probabilities of each option's tokens given the prompt. */
  logLikelihoods: number[];
  tokenCounts: number[];
  /** Index of the most likely option. */
  best: number;
}

/** Token ids of the prompt and of the continuation, split where the tokenizer splits the whole. */
export function splitContinuation(
  lm: LoadedLm,
  prompt: string,
  option: string,
  context: number[] = lm.tokenizer.encode(prompt),
): { context: number[]; continuation: number[] } {
  const whole = lm.tokenizer.encode(prompt + option);
  const sharesPrefix = whole.length > context.length && context.every((id, i) => whole[i] === id);
  return sharesPrefix
    ? { context, continuation: whole.slice(context.length) }
    : { context, continuation: lm.tokenizer.encode(option, { add_special_tokens: false }) };
}

/** Log-likelihood of each candidate continuation given the prompt (lm-evaluation-harness style). */
export async function scoreOptions(lm: LoadedLm, prompt: string, options: readonly string[]): Promise<OptionScores> {
  const V = lm.spec.vocabSize;
  const logLikelihoods: number[] = [];
  const tokenCounts: number[] = [];
  for (const option of options) {
    const { context, continuation } = splitContinuation(lm, prompt, option);
    if (continuation.length === 0) throw new Error(`option ${JSON.stringify(option)} has no tokens`);
    const ids = [...context, ...continuation].slice(-lm.spec.maxPositions);
    const first = ids.length - continuation.length;
    const logits = await forwardLogits(lm, ids);
    let sum = 0;
    for (let t = first; t < ids.length; t++) sum += logSoftmax(logits.subarray((t - 1) * V, t * V))[ids[t]];
    logLikelihoods.push(sum);
    tokenCounts.push(continuation.length);
  }
  const best = logLikelihoods.reduce((bi, v, i, a) => (v > a[bi] ? i : bi), 0);
  return { logLikelihoods, tokenCounts, best };
}

export interface OptionRequest {
  prompt: string;
  options: readonly string[];
}

/** One (prompt, option) sequence of a scoring batch. */
interface OptionSequence {
  r: number;
  o: number;
  ids: number[];
  /** Index in `ids` of the option's first token. */
  first: number;
  tokens: number;
}

/**
 * `scoreOptions` for several prompts at once. With room for two rows or more, the prompts go
 * through the model together, `rows` at a time, their shared prefix once (`contextBatch`), and
 * their options run as rows over copies of their prompt's K/V cache, `rows` at a time (a prompt's
 * arithmetic and its logits are paid once, not once per option). With one row, and for a prompt
 * cut to the context, every (prompt, option) sequence is a forward pass of its own, grouped `rows`
 * at a time (longest first, so a group's rows are of similar length). Each option's number is
 * that of its own forward pass up to rounding.
 */
export async function scoreOptionsBatch(lm: LoadedLm, requests: readonly OptionRequest[], rows: number): Promise<OptionScores[]> {
  const step = Math.max(1, Math.floor(rows));
  const perRequest = requests.map((req, r) => {
    // On a small model the tokenizer is a large share of the time (bench:eval): the prompt is encoded once.
    const promptIds = lm.tokenizer.encode(req.prompt);
    return req.options.map((option, o): OptionSequence => {
      const { context, continuation } = splitContinuation(lm, req.prompt, option, promptIds);
      if (continuation.length === 0) throw new Error(`option ${JSON.stringify(option)} has no tokens`);
      const ids = [...context, ...continuation].slice(-lm.spec.maxPositions);
      return { r, o, ids, first: ids.length - continuation.length, tokens: continuation.length };
    });
  });
  const sums = requests.map((req) => new Array<number>(req.options.length).fill(0));
  const counts = requests.map((req) => new Array<number>(req.options.length).fill(0));
  const keep = (s: OptionSequence, sum: number) => {
    sums[s.r][s.o] = sum;
    counts[s.r][s.o] = s.tokens;
  };
  const alone: OptionSequence[] = [];
  const overPrompt: { context: number[]; sequences: OptionSequence[] }[] = [];
  for (const sequences of perRequest) {
    const context = sequences[0]?.ids.slice(0, sequences[0].first) ?? [];
    const shared =
      step > 1 && context.length > 0 && sequences.every((s) => s.first === context.length && context.every((id, t) => s.ids[t] === id));
    if (shared) overPrompt.push({ context, sequences });
    else alone.push(...sequences);
  }
  for (let g = 0; g < overPrompt.length; g += step) {
    const group = overPrompt.slice(g, g + step);
    const scores = await scoreOverContexts(lm, group, step);
    group.forEach(({ sequences }, c) => sequences.forEach((s, k) => keep(s, scores[c][k])));
  }
  const V = lm.spec.vocabSize;
  const order = alone.sort((a, b) => b.ids.length - a.ids.length);
  for (let g = 0; g < order.length;) {
    // Every position's logits come back here: the group's rows are bounded by them too.
    const group = order.slice(g, g + Math.min(step, logitRows(lm.spec, lm.device, order[g].ids.length)));
    g += group.length;
    const { logits, width } = await forwardLogitsBatch(
      lm,
      group.map((s) => s.ids),
    );
    group.forEach((s, k) => {
      let sum = 0;
      for (let t = s.first; t < s.ids.length; t++) {
        const at = (k * width + t - 1) * V;
        sum += logSoftmax(logits.subarray(at, at + V))[s.ids[t]];
      }
      keep(s, sum);
    });
  }
  return sums.map((logLikelihoods, r) => ({
    logLikelihoods,
    tokenCounts: counts[r],
    best: logLikelihoods.reduce((bi, v, i, a) => (v > a[bi] ? i : bi), 0),
  }));
}

/**
 * Sum of log-probabilities of each sequence's option tokens, per context, every sequence its
 * context followed by an option: the contexts go through the model in one batch that keeps their
 * K/V and their last positions' logits (which score every option's first token); then the
 * options of all contexts, right-padded, `rows` at a time, each over a copy of its context's
 * cache. An option's last token is never fed: no logits are wanted after it.
 */
async function scoreOverContexts(
  lm: LoadedLm,
  contexts: readonly { context: readonly number[]; sequences: readonly OptionSequence[] }[],
  rows: number,
): Promise<number[][]> {
  const V = lm.spec.vocabSize;
  const {
    cache,
    mask: contextMask,
    lastLogits,
  } = await contextBatch(
    lm,
    contexts.map((c) => c.context),
  );
  const T = cache.length;
  const sums = contexts.map(({ context, sequences }, c) => {
    const firstLogProbs = logSoftmax(lastLogits.subarray(c * V, (c + 1) * V));
    return sequences.map((s) => firstLogProbs[s.ids[context.length]]);
  });
  const longer = contexts.flatMap(({ context, sequences }, c) =>
    sequences.flatMap((s, k) => (s.tokens > 1 ? [{ s, c, k, C: context.length }] : [])),
  );
  for (let g = 0; g < longer.length; g += rows) {
    const group = longer.slice(g, g + rows);
    const B = group.length;
    // The tokens fed: every option token but the last; row b's logits at j score its token j + 1.
    const width = Math.max(...group.map(({ s }) => s.tokens - 1));
    const ids = new BigInt64Array(B * width).fill(BigInt(lm.spec.eosTokenIds[0] ?? 0));
    const mask = new BigInt64Array(B * (T + width));
    group.forEach(({ s, c, C }, b) => {
      for (let j = 0; j < s.tokens - 1; j++) ids[b * width + j] = BigInt(s.ids[C + j]);
      mask.set(contextMask.subarray(c * T, (c + 1) * T), b * (T + width));
      mask.fill(1n, b * (T + width) + T, b * (T + width) + T + s.tokens - 1);
    });
    const logits = await logitsPass(lm, {
      ids,
      rows: B,
      width,
      mask,
      past: pastFeeds(
        cache,
        group.map(({ c }) => c),
      ),
    });
    group.forEach(({ s, c, k, C }, b) => {
      for (let j = 0; j < s.tokens - 1; j++) {
        const at = (b * width + j) * V;
        sums[c][k] += logSoftmax(logits.subarray(at, at + V))[s.ids[C + j + 1]];
      }
    });
  }
  return sums;
}

export interface KlResult {
  meanKl: number;
  pplReference: number;
  pplVariant: number;
  tokens: number;
}

/** Mean KL(reference ‖ variant) of next-token distributions over a text, with both perplexities. */
export async function klToReference(reference: LoadedLm, variant: LoadedLm, text: string): Promise<KlResult> {
  const ids = reference.tokenizer.encode(text);
  const V = reference.spec.vocabSize;
  if (variant.spec.vocabSize !== V) throw new Error('the two models have different vocabularies');
  const ctx = Math.min(reference.spec.maxPositions, variant.spec.maxPositions, 1024);
  let kl = 0;
  let nllRef = 0;
  let nllVar = 0;
  let n = 0;
  for (let start = 0; start < ids.length - 1; start += ctx - 1) {
    const chunk = ids.slice(start, start + ctx);
    const [a, b] = [await forwardLogits(reference, chunk), await forwardLogits(variant, chunk)];
    for (let t = 0; t < chunk.length - 1; t++) {
      const p = logSoftmax(a.subarray(t * V, (t + 1) * V));
      const q = logSoftmax(b.subarray(t * V, (t + 1) * V));
      let d = 0;
      for (let v = 0; v < V; v++) d += Math.exp(p[v]) * (p[v] - q[v]);
      kl += d;
      nllRef -= p[chunk[t + 1]];
      nllVar -= q[chunk[t + 1]];
      n++;
    }
  }
  return { meanKl: kl / n, pplReference: Math.exp(nllRef / n), pplVariant: Math.exp(nllVar / n), tokens: n };
}
