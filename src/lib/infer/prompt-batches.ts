import type { EvalPrompt, EvalRecord, ScoringMode } from '../eval';
import { chooseBatchSize } from './batch-size';
import type { LoadedLm } from './causal-lm';
import { promptText } from './generate';
import { generateBatch, type BatchRow } from './generate-batch';
import { compareIds, commonPrefixLength } from './kv-cache';
import { keepsHostCache } from './prefix-decode';
import { scoreOptionsBatch } from './scoring';

/** One model call of an evaluation: a prompt of an item, the sample index among its generations and the sample's seed. */
export interface PromptUnit {
  item: EvalRecord['item'];
  prompt: EvalPrompt;
  sample: number;
  seed: number;
}

export interface BatchRunOptions {
  /** Rows per forward pass; absent: `chooseBatchSize` for the model, its device and the longest unit's sequence. */
  batchSize?: number;
  signal?: AbortSignal;
}

function inputOf(prompt: EvalPrompt): Pick<BatchRow, 'prompt' | 'messages'> {
  return prompt.input.kind === 'chat' ? { messages: prompt.input.messages } : { prompt: prompt.input.text };
}

/** Characters two texts start with in common. */
function sharedChars(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  return k;
}

/** Characters two prompts must share before they count as one family (about `MIN_SHARED_PREFIX` tokens). */
const FAMILY_CHARS = 64;

/**
 * Units in batches of at most `size` units (or, with `rows`, `size` rows). Prompts sorted by
 * their text fall into families that share a prefix of at least half the shorter prompt (a
 * few-shot perspective's instructions and demonstrations); a batch stays within a family, whose
 * prefix it runs once, and prompts alone in theirs are batched together. Inside each, prompts go
 * longest first and a batch stops before one whose own part (after the family's prefix) is under
 * half the first one's: every row is padded to the first, so padding at most doubles the work.
 * Lengths are in characters: on a small model the tokenizer is a large share of the time.
 */
export function batchRuns(texts: readonly string[], size: number, rows: (i: number) => number = () => 1): number[][] {
  const order = texts.map((_, i) => i).sort((a, b) => (texts[a] < texts[b] ? -1 : texts[a] > texts[b] ? 1 : a - b));
  const kin = (a: string, b: string) => sharedChars(a, b) >= Math.max(FAMILY_CHARS, Math.min(a.length, b.length) / 2);
  const families: number[][] = [];
  for (const i of order) {
    const last = families.at(-1);
    if (last && kin(texts[last[last.length - 1]], texts[i])) last.push(i);
    else families.push([i]);
  }
  // Sorted by text, a family's common prefix is what its first and last share; loners share none.
  const groups = families
    .filter((f) => f.length > 1)
    .map((members) => ({ members, shared: sharedChars(texts[members[0]], texts[members[members.length - 1]]) }));
  groups.push({ members: families.filter((f) => f.length === 1).flat(), shared: 0 });
  const runs: number[][] = [];
  for (const { members, shared } of groups) {
    const own = (i: number) => texts[i].length - shared;
    const longest = [...members].sort((a, b) => own(b) - own(a) || a - b);
    for (let g = 0; g < longest.length;) {
      const run = [longest[g]];
      let used = rows(longest[g]);
      for (g++; g < longest.length && used + rows(longest[g]) <= size && 2 * own(longest[g]) >= own(run[0]); g++) {
        run.push(longest[g]);
        used += rows(longest[g]);
      }
      runs.push(run);
    }
  }
  return runs;
}

/**
 * Distinct tokens of the prefix tree of `sequences`: what a forward pass must see at the least
 * when every prefix that two sequences share runs once. Sorted, each sequence adds what it does
 * not share with the one before it.
 */
export function prefixTreeTokens(sequences: readonly (readonly number[])[]): number {
  const sorted = [...sequences].sort(compareIds);
  let tokens = 0;
  for (let i = 0; i < sorted.length; i++) tokens += sorted[i].length - (i > 0 ? commonPrefixLength([sorted[i - 1], sorted[i]]) : 0);
  return tokens;
}

/**
 * Runs (of one family each) packed into batches of at most `size` rows, those of the most new
 * tokens first: a batch decodes until its longest budget is spent, so runs of like budgets go
 * together.
 */
export function packRuns(runs: readonly number[][], size: number, budget: (i: number) => number): number[][][] {
  const most = (run: readonly number[]) => Math.max(...run.map(budget));
  const order = runs.map((_, r) => r).sort((a, b) => most(runs[b]) - most(runs[a]) || a - b);
  const packs: number[][][] = [];
  let rows = 0;
  for (const r of order) {
    const last = packs.at(-1);
    if (last && rows + runs[r].length <= size) {
      last.push(runs[r]);
      rows += runs[r].length;
    } else {
      packs.push([runs[r]]);
      rows = runs[r].length;
    }
  }
  return packs;
}

/** A pack's runs as families of its flattened rows (indices into `pack.flat()`). */
function familiesOf(pack: readonly number[][]): number[][] {
  let at = 0;
  return pack.map((run) => run.map(() => at++));
}

/**
 * Runs `units` through the model a batch at a time and yields each batch's records with the
 * indices of their units, so a caller can store them before the next batch starts. Prompts that
 * share a prefix go together and their batch runs it once (`batchRuns`). Generated units become
 * generation rows (each with its budget and seed); likelihood units score all their options, as
 * many option sequences per forward pass as the batch size.
 */
export async function* runPromptBatches(
  lm: LoadedLm,
  units: readonly PromptUnit[],
  mode: ScoringMode,
  opts: BatchRunOptions = {},
): AsyncGenerator<{ index: number; record: EvalRecord }[]> {
  if (units.length === 0) return;
  const texts = units.map((u) => promptText(lm, inputOf(u.prompt)).text);
  const extra = (u: PromptUnit): number => (mode === 'generate' ? u.prompt.decoding.maxNewTokens : 8);
  // The rule's size for the longest unit fits every batch; only that prompt is encoded for it.
  const longest = units.reduce((l, u, i) => (texts[i].length + extra(u) > texts[l].length + extra(units[l]) ? i : l), 0);
  const size = opts.batchSize ?? chooseBatchSize(lm.spec, lm.device, lm.tokenizer.encode(texts[longest]).length + extra(units[longest]));
  const options = (i: number) => units[i].prompt.options?.length ?? 0;
  const runs = mode === 'likelihood' ? batchRuns(texts, size, options) : batchRuns(texts, size);
  // A decoder that runs several families together takes runs of up to `size` rows at once.
  const packs = mode === 'generate' && keepsHostCache(lm) ? packRuns(runs, size, (i) => extra(units[i])) : runs.map((r) => [r]);
  for (const pack of packs) {
    const group = pack.flat();
    if (opts.signal?.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
    if (mode === 'likelihood') {
      for (const i of group) if (!units[i].prompt.options?.length) throw new Error(`${units[i].prompt.id} has no options to score`);
      const scores = await scoreOptionsBatch(
        lm,
        group.map((i) => ({ prompt: texts[i], options: units[i].prompt.options! })),
        size,
      );
      yield group.map((i, k) => ({
        index: i,
        record: { item: units[i].item, prompt: units[i].prompt, optionLogLikelihoods: scores[k].logLikelihoods },
      }));
      continue;
    }
    const out = await generateBatch(
      lm,
      group.map((i) => {
        const { prompt, seed } = units[i];
        return { ...inputOf(prompt), maxNewTokens: prompt.decoding.maxNewTokens, temperature: prompt.decoding.temperature, seed };
      }),
      {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(pack.length > 1 ? { families: familiesOf(pack) } : {}),
      },
    );
    if (opts.signal?.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
    yield group.map((i, k) => ({
      index: i,
      record: { item: units[i].item, prompt: units[i].prompt, sample: units[i].sample, output: out[k].text },
    }));
  }
}
