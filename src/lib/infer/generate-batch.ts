import { LogitsProcessor, LogitsProcessorList, StoppingCriteria, Tensor } from '@huggingface/transformers';
import type { ChatMessage } from '../model/tokenizer';
import { seededRandom } from '../util/rng';
import type { LoadedLm } from './causal-lm';
import { ContextLengthError, encodePrompt } from './generate';
import { plainDecoding } from './decoding';
import { compareIds, sharedPrefixLength } from './kv-cache';
import { decodeFamilies, decodeOverPrefix, keepsHostCache, type StepPolicy } from './prefix-decode';
import { takesPrefix } from './prefix-session';

/** One prompt of a batch, with its own budget, stop strings and sampling. */
export interface BatchRow {
  prompt?: string;
  messages?: ChatMessage[];
  maxNewTokens?: number;
  /** 0 (default) is greedy; above 0 samples with this temperature from the row's own seeded stream. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /** The row stops once its new text contains one of these; its text is cut before it. */
  stop?: string[];
}

export interface BatchRowResult {
  /** Prompt ids followed by the row's generated ids (no padding). */
  ids: number[];
  promptIds: number[];
  newIds: number[];
  text: string;
  finish: 'eos' | 'length' | 'stop' | 'cancelled';
}

export interface BatchOptions {
  signal?: AbortSignal;
  /** End-of-sequence is suppressed until every row has this many tokens (benchmarks want fixed lengths). */
  minNewTokens?: number;
  /**
   * The rows' prompt families (indices into `rows`, each a group whose prefix runs once), for a
   * decoder that runs several together (`decodeFamilies`); absent: found from the prompts' tokens.
   */
  families?: number[][];
  /** After each step: the new tokens the rows hold so far, all rows together (for progress on long batches). */
  onTokens?: (generated: number) => void;
}

type Finish = BatchRowResult['finish'];

/**
 * Per-row stopping for a left-padded batch. transformers.js ends the loop only when every row
 * says done, and keeps appending tokens to rows that finished earlier; its own end-of-sequence
 * check looks at the last token only, so a finished row could read as running again. Here a row
 * that finishes stays finished and remembers how many of its new tokens count.
 */
class RowStops extends StoppingCriteria {
  readonly finish: (Finish | null)[];
  readonly kept: number[];
  constructor(
    private readonly lm: LoadedLm,
    private readonly paddedLength: number,
    private readonly maxNew: number[],
    private readonly stops: string[][],
    private readonly signal?: AbortSignal,
    private readonly onTokens?: (generated: number) => void,
  ) {
    super();
    this.finish = maxNew.map(() => null);
    this.kept = maxNew.map(() => 0);
  }
  override _call(inputIds: bigint[][] | number[][]): boolean[] {
    const done = this.check(inputIds);
    this.onTokens?.(this.kept.reduce((a, b) => a + b, 0));
    return done;
  }
  private check(inputIds: bigint[][] | number[][]): boolean[] {
    const eos = new Set(this.lm.spec.eosTokenIds);
    return inputIds.map((row, i) => {
      if (this.finish[i]) return true;
      const fresh = row.slice(this.paddedLength).map(Number);
      this.kept[i] = fresh.length;
      if (this.signal?.aborted) this.finish[i] = 'cancelled';
      else if (fresh.length > 0 && eos.has(fresh[fresh.length - 1])) this.finish[i] = 'eos';
      else if (this.stops[i].length && this.hasStop(fresh, this.stops[i])) this.finish[i] = 'stop';
      else if (fresh.length >= this.maxNew[i]) this.finish[i] = 'length';
      return this.finish[i] !== null;
    });
  }
  private hasStop(ids: number[], stop: string[]): boolean {
    const text = this.lm.tokenizer.decode(ids, { skip_special_tokens: true });
    return stop.some((s) => text.includes(s));
  }
}

/**
 * Sampling per row from the row's own seeded stream, so a sampled output depends on its seed and
 * its logits only, never on which rows share its batch or in what order: the row's token is
 * drawn here and every other logit set to −∞, and generation itself runs greedy. Greedy rows are
 * left as they are.
 */
class RowSampler extends LogitsProcessor {
  private readonly streams: ((() => number) | null)[];
  constructor(
    private readonly rows: readonly BatchRow[],
    private readonly stops: RowStops,
  ) {
    super();
    this.streams = rows.map((r) => ((r.temperature ?? 0) > 0 ? seededRandom(r.seed ?? 0) : null));
  }
  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const V = logits.dims[logits.dims.length - 1];
    const data = logits.data as Float32Array;
    for (let i = 0; i < this.rows.length; i++) {
      const next = this.streams[i];
      if (!next || this.stops.finish[i]) continue;
      const row = data.subarray(i * V, (i + 1) * V);
      const pick = sampleIndex(row, this.rows[i].temperature ?? 1, this.rows[i].topK ?? 0, next());
      row.fill(-Infinity);
      row[pick] = 0;
    }
    return logits;
  }
}

/** The index drawn with probability softmax(logits / temperature), among the top `topK` when above 0; `u` uniform in [0, 1). */
export function sampleIndex(logits: Float32Array, temperature: number, topK: number, u: number): number {
  if (topK <= 0 || topK >= logits.length) return sampleFromAll(logits, temperature, u);
  const candidates = Array.from(logits.keys())
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, topK);
  let max = -Infinity;
  for (const j of candidates) if (logits[j] > max) max = logits[j];
  const weights = candidates.map((j) => Math.exp((logits[j] - max) / temperature));
  let x = u * weights.reduce((a, b) => a + b, 0);
  for (let k = 0; k < candidates.length; k++) {
    x -= weights[k];
    if (x < 0) return candidates[k];
  }
  return candidates[candidates.length - 1];
}

/**
 * `sampleIndex` over the whole vocabulary, without arrays: a self-calibration step samples every
 * row from ~50k logits.
 */
function sampleFromAll(logits: Float32Array, temperature: number, u: number): number {
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) if (logits[j] > max) max = logits[j];
  let total = 0;
  for (let j = 0; j < logits.length; j++) total += Math.exp((logits[j] - max) / temperature);
  let x = u * total;
  for (let j = 0; j < logits.length; j++) {
    x -= Math.exp((logits[j] - max) / temperature);
    if (x < 0) return j;
  }
  return logits.length - 1;
}

/**
 * Generates for several prompts at once, each row with its own token budget, stop strings, end of
 * sequence and seed; greedy rows give the ids a batch of one gives. Rows that share a prefix
 * (`sharedPrefixLength`: a few-shot perspective's instructions and demonstrations) go to the
 * batch decoder (`decodeOverPrefix`), which runs the prefix once and holds it once, and so does
 * every batch on WASM with a graph that hands back each step's keys and values (it keeps the cache
 * in host memory); others go through transformers.js' loop, left-padded to one length.
 */
export async function generateBatch(lm: LoadedLm, rows: readonly BatchRow[], opts: BatchOptions = {}): Promise<BatchRowResult[]> {
  if (rows.length === 0) return [];
  const context = lm.spec.maxPositions;
  const prompts = rows.map((row) => {
    const ids = encodePrompt(lm, row);
    if (ids.length >= context) {
      throw new ContextLengthError(`The prompt is ${ids.length} tokens; ${lm.label} has a context of ${context} tokens`);
    }
    return ids;
  });
  const maxNew = rows.map((r, i) => Math.max(0, Math.min(r.maxNewTokens ?? 64, context - prompts[i].length)));
  const padded = Math.max(...prompts.map((p) => p.length));
  const budget = Math.max(1, Math.min(Math.max(...maxNew), context - padded));
  const stopStrings = rows.map((r) => r.stop ?? []);
  // The prefix all rows share runs once, held once for the batch (a graph built before it had
  // no input for that: its rows run whole).
  const P = takesPrefix(lm.session, lm.spec) ? sharedPrefixLength(prompts) : 0;
  let generated: number[][];
  let stops: RowStops;
  const families = keepsHostCache(lm) ? (opts.families ?? promptFamilies(prompts)) : [];
  if (families.length > 1) {
    stops = new RowStops(lm, 0, maxNew, stopStrings, opts.signal, opts.onTokens);
    generated = await decodeAcrossFamilies(lm, prompts, families, budget, stepPolicy(lm, rows, stops, opts.minNewTokens ?? 0));
  } else if (P > 0 || keepsHostCache(lm)) {
    stops = new RowStops(lm, 0, maxNew, stopStrings, opts.signal, opts.onTokens);
    generated = await decodeOverPrefix(lm, prompts, P, BigInt(padTokenId(lm)), budget, stepPolicy(lm, rows, stops, opts.minNewTokens ?? 0));
  } else {
    stops = new RowStops(lm, padded, maxNew, stopStrings, opts.signal, opts.onTokens);
    generated = await generateThroughTransformers(lm, prompts, padded, budget, rows, stops, opts.minNewTokens);
  }
  return rows.map((row, i) => {
    // A row may end before the context leaves room for its budget: then it ends by length.
    const kept = Math.min(stops.finish[i] ? stops.kept[i] : generated[i].length, maxNew[i]);
    const newIds = generated[i].slice(0, kept);
    const finish: Finish = stops.finish[i] ?? 'length';
    let text = lm.tokenizer.decode(newIds, { skip_special_tokens: true });
    if (finish === 'stop') {
      const cut = Math.min(...(row.stop ?? []).map((s) => text.indexOf(s)).filter((k) => k >= 0));
      text = text.slice(0, cut);
    }
    return { ids: [...prompts[i], ...newIds], promptIds: prompts[i], newIds, text, finish };
  });
}

/**
 * Rows grouped by the prefix they share: rows in token order, each group those that share at
 * least `MIN_SHARED_PREFIX` tokens with its first; rows alone in theirs form one group without a
 * prefix.
 */
export function promptFamilies(prompts: readonly (readonly number[])[]): number[][] {
  const order = prompts.map((_, i) => i).sort((a, b) => compareIds(prompts[a], prompts[b]) || a - b);
  const groups: number[][] = [];
  for (const i of order) {
    const last = groups.at(-1);
    if (last && sharedPrefixLength([prompts[last[0]], prompts[i]]) > 0) last.push(i);
    else groups.push([i]);
  }
  const alone = groups.filter((g) => g.length === 1).flat();
  return [...groups.filter((g) => g.length > 1), ...(alone.length ? [alone] : [])];
}

/**
 * The batch through `decodeFamilies`, which numbers rows family by family; `policy` and the
 * result keep the caller's order.
 */
async function decodeAcrossFamilies(
  lm: LoadedLm,
  prompts: readonly number[][],
  families: readonly number[][],
  budget: number,
  policy: StepPolicy,
): Promise<number[][]> {
  const order = families.flat();
  if (order.length !== prompts.length || new Set(order).size !== order.length) {
    throw new Error(`the batch's families must name each of its ${prompts.length} rows once`);
  }
  const inOrder = <T>(xs: readonly T[]): T[] => {
    const out = new Array<T>(xs.length);
    xs.forEach((x, b) => (out[order[b]] = x));
    return out;
  };
  const generated = await decodeFamilies(
    lm,
    families.map((f) => {
      const members = f.map((i) => prompts[i]);
      return { prompts: members, P: sharedPrefixLength(members) };
    }),
    BigInt(padTokenId(lm)),
    budget,
    {
      next: (logits, step, running) =>
        policy.next(
          logits,
          step,
          running.map((b) => order[b]),
        ),
      done: (rows) => {
        const done = policy.done(inOrder(rows));
        return order.map((i) => done[i]);
      },
    },
  );
  return inOrder(generated);
}

/**
 * What transformers.js' greedy loop does to a step's logits, for the batch decoder: end of
 * sequence held back until `minNewTokens`, sampled rows drawn from their own streams as
 * `RowSampler` draws them, the others the first largest logit; a row is done when `stops` says so.
 */
function stepPolicy(lm: LoadedLm, rows: readonly BatchRow[], stops: RowStops, minNewTokens: number): StepPolicy {
  const streams = rows.map((r) => ((r.temperature ?? 0) > 0 ? seededRandom(r.seed ?? 0) : null));
  const V = lm.spec.vocabSize;
  return {
    next(logits, step, running) {
      return running.map((b, k) => {
        const row = logits.subarray(k * V, (k + 1) * V);
        if (step < minNewTokens) for (const e of lm.spec.eosTokenIds) row[e] = -Infinity;
        const stream = streams[b];
        if (stream && !stops.finish[b]) return sampleIndex(row, rows[b].temperature ?? 1, rows[b].topK ?? 0, stream());
        let best = 0;
        for (let j = 1; j < V; j++) if (row[j] > row[best]) best = j;
        return best;
      });
    },
    done: (generated) => stops._call(generated as number[][]),
  };
}

/**
 * The batch through transformers.js' own loop: the prompts left-padded to one length with an
 * attention mask (it derives position ids from the mask, so every row counts its positions from
 * its first real token, and our graph masks padded keys).
 */
async function generateThroughTransformers(
  lm: LoadedLm,
  prompts: number[][],
  padded: number,
  budget: number,
  rows: readonly BatchRow[],
  stops: RowStops,
  minNewTokens?: number,
): Promise<number[][]> {
  const pad = BigInt(padTokenId(lm));
  const B = rows.length;
  const inputIds = new BigInt64Array(B * padded).fill(pad);
  const mask = new BigInt64Array(B * padded);
  prompts.forEach((ids, i) => {
    const start = i * padded + padded - ids.length;
    ids.forEach((id, j) => (inputIds[start + j] = BigInt(id)));
    mask.fill(1n, start, (i + 1) * padded);
  });
  const processors = new LogitsProcessorList();
  processors.push(new RowSampler(rows, stops));
  const output = (await lm.model.generate({
    input_ids: new Tensor('int64', inputIds, [B, padded]),
    attention_mask: new Tensor('int64', mask, [B, padded]),
    ...plainDecoding(lm),
    max_new_tokens: budget,
    ...(minNewTokens ? { min_new_tokens: Math.min(minNewTokens, budget) } : {}),
    do_sample: false,
    logits_processor: processors,
    stopping_criteria: [stops],
  } as Parameters<LoadedLm['model']['generate']>[0])) as Tensor;
  const width = output.dims[1];
  const all = Array.from(output.data as BigInt64Array, Number);
  return prompts.map((_, i) => all.slice(i * width + padded, (i + 1) * width));
}

/** The id padding is written with: the tokenizer's pad token, else end of sequence, else 0 (the mask hides it either way). */
function padTokenId(lm: LoadedLm): number {
  const pad = (lm.tokenizer as unknown as { pad_token_id?: number | null }).pad_token_id;
  return typeof pad === 'number' && pad >= 0 && pad < lm.spec.vocabSize ? pad : (lm.spec.eosTokenIds[0] ?? 0);
}
