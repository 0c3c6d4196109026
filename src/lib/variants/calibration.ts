import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { LoadedLm } from '../infer/causal-lm';
import { chooseBatchSize } from '../infer/batch-size';
import { generateBatch } from '../infer/generate-batch';
import { seededRandom } from '../util/rng';
import type { ModelSpec } from '../model/spec';
import { BUILTIN_CALIBRATION } from './builtin-text';
import { allowedByPagePolicy } from '../model/page-policy';

/** Where calibration text comes from. */
export type CalibrationSource =
  | { kind: 'builtin' }
  /** Text the user gave (a local file or a text box). */
  | { kind: 'text'; text: string; name?: string }
  | { kind: 'url'; url: string }
  /** Samples the dense model writes itself (temperature 1, seeded). */
  | { kind: 'self' }
  /** Token ids prepared elsewhere (tests, benchmarks): used as they are. */
  | { kind: 'tokens'; ids: number[][]; name?: string };

export interface CalibrationSize {
  samples: number;
  seqLen: number;
}

/**
 * A run's calibration choice as plans store it (and as `ctlab` sends it): one of the sources a
 * plan can name, with its size. `calibrationSource` turns it into the compressor's source.
 */
export interface CalibrationPlan extends CalibrationSize {
  source: 'self' | 'builtin' | 'url';
  url?: string;
}

export function calibrationSource(plan: Pick<CalibrationPlan, 'source' | 'url'>): CalibrationSource {
  if (plan.source === 'url') return { kind: 'url', url: plan.url ?? '' };
  return plan.source === 'builtin' ? { kind: 'builtin' } : { kind: 'self' };
}

/**
 * The calibration each context starts from. Compressing one variant on its own
 * (`ctlab compress`, the Compress tab) takes the reference size, scaled to the model
 * (`defaultCalibrationSize`); a run compresses many variants, so the page's planner starts
 * smaller, and `ctlab eval` smaller still, so that a whole grid fits a command-line session.
 */
export const CALIBRATION_DEFAULTS = {
  planner: { source: 'self', samples: 32, seqLen: 256 },
  cliEval: { source: 'self', samples: 16, seqLen: 128 },
} as const satisfies Record<string, CalibrationPlan>;

export interface CalibrationSet extends CalibrationSize {
  /** `samples` token-id sequences of `seqLen` tokens each. */
  ids: number[][];
  seed: number;
  /** Human description of the source. */
  source: string;
  /** Tokens the source provided (before windows were cut from it). */
  sourceTokens: number;
  notes: string[];
  ms: number;
}

export const DEFAULT_SAMPLES = 128;
export const DEFAULT_SEQ_LEN = 512;

/** Approximate parameter count of a Llama-family checkpoint. */
export function parameterCount(spec: ModelSpec): number {
  const { hiddenSize: H, intermediateSize: I, numHeads: NH, numKvHeads: KVH, headDim: D, vocabSize: V } = spec;
  const perLayer = H * NH * D * 2 + H * KVH * D * 2 + 3 * H * I + 2 * H;
  return spec.numLayers * perLayer + V * H * (spec.tiedEmbeddings ? 1 : 2) + H;
}

/**
 * The reference setting is 128 samples × 512 tokens (llm-awq; GPTQ and SparseGPT use 128
 * windows too). The length is clipped to the context; the count shrinks with the model below
 * 1B parameters (at least 8) so tiny models calibrate in seconds, not minutes.
 */
export function defaultCalibrationSize(spec: ModelSpec): CalibrationSize {
  const params = parameterCount(spec);
  const samples = Math.max(8, Math.min(DEFAULT_SAMPLES, Math.round((DEFAULT_SAMPLES * params) / 1e9)));
  return { samples, seqLen: Math.max(2, Math.min(DEFAULT_SEQ_LEN, spec.maxPositions)) };
}

/** Paragraphs (blank-line separated) of a text, each one document. */
export function documents(text: string): string[] {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((d) => d.trim())
    .filter(Boolean);
}

/**
 * Token windows from documents: each document encoded with the tokenizer's special tokens
 * (BOS), concatenated, then `samples` windows of `seqLen` tokens at seeded random offsets (as
 * the GPTQ / SparseGPT loaders draw windows from C4). The length shrinks to the text when
 * the text is shorter; windows overlap when the text is short for their number.
 */
export function tokenWindows(
  tokenizer: Pick<PreTrainedTokenizer, 'encode'>,
  docs: readonly string[],
  size: CalibrationSize,
  seed: number,
): { ids: number[][]; seqLen: number; sourceTokens: number; notes: string[] } {
  const stream: number[] = [];
  for (const d of docs) for (const id of tokenizer.encode(d)) stream.push(id);
  const notes: string[] = [];
  if (stream.length < 2) throw new Error('the calibration text has fewer than two tokens');
  let seqLen = size.seqLen;
  if (stream.length < seqLen) {
    notes.push(`the calibration text has only ${stream.length} tokens; sample length reduced from ${seqLen} to ${stream.length}`);
    seqLen = stream.length;
  }
  const starts = stream.length - seqLen + 1;
  if (starts * seqLen < size.samples * seqLen && size.samples > 1) {
    notes.push(`${size.samples} windows of ${seqLen} tokens from ${stream.length} tokens overlap`);
  }
  const rand = seededRandom(seed);
  const ids = Array.from({ length: size.samples }, () => {
    const at = Math.floor(rand() * starts);
    return stream.slice(at, at + seqLen);
  });
  return { ids, seqLen, sourceTokens: stream.length, notes };
}

/** Generation seed of the k-th self-generated sequence. */
function sampleSeed(seed: number, k: number): number {
  return (seed * 1_000_003 + k * 7919 + 1) >>> 0;
}

/**
 * Sequences the model writes from its BOS token, sampled at temperature 1; returns each
 * sequence's ids (prompt included), in order, until `tokens` are collected. The k-th sequence
 * comes from its own seeded stream (`sampleSeed`), and sequences are written a batch at a time
 * (`chooseBatchSize` for the model and device unless `batchSize` is given): the batch decoder
 * draws each row from its own stream, so the set does not depend on the batch size, and a batch
 * is never larger than the tokens still missing need.
 */
export async function generateSequences(
  lm: LoadedLm,
  tokens: number,
  maxLen: number,
  seed: number,
  signal?: AbortSignal,
  onStatus?: (msg: string) => void,
  batchSize?: number,
): Promise<number[][]> {
  const prompt = startPrompt(lm);
  const promptLen = lm.tokenizer.encode(prompt).length;
  const length = Math.min(maxLen, lm.spec.maxPositions);
  const maxNewTokens = Math.max(1, length - promptLen);
  const rowsAtOnce = batchSize ?? chooseBatchSize(lm.spec, lm.device, promptLen + maxNewTokens);
  const giveUpAfter = 100 * Math.ceil(tokens / Math.max(1, maxLen)) + 100;
  const out: number[][] = [];
  let have = 0;
  let reportedAt = 0;
  const report = (count: number, force = false) => {
    // A batch of a large model runs for minutes on a CPU: say how far it is, about once a second.
    if (!onStatus || (!force && performance.now() - reportedAt < 1000)) return;
    reportedAt = performance.now();
    onStatus(`self-generated ${Math.min(count, tokens)}/${tokens} calibration tokens`);
  };
  for (let k = 0; have < tokens;) {
    signal?.throwIfAborted();
    if (k > giveUpAfter) throw new Error('the model keeps stopping at once; self-generated calibration is not possible');
    const rows = Math.min(rowsAtOnce, Math.ceil((tokens - have) / (promptLen + maxNewTokens)));
    const before = have;
    const batch = await generateBatch(
      lm,
      Array.from({ length: rows }, (_, j) => ({ prompt, maxNewTokens, temperature: 1, topK: 0, seed: sampleSeed(seed, k + j) })),
      { signal, onTokens: (n) => report(before + rows * promptLen + n) },
    );
    if (batch.some((r) => r.finish === 'cancelled')) signal?.throwIfAborted();
    // Sequences after the one that completes the count are dropped, as writing one at a time would.
    for (const r of batch) {
      if (have >= tokens) break;
      out.push(r.ids);
      have += r.ids.length;
    }
    k += rows;
    report(have, true);
  }
  return out;
}

/** The generation prompt: empty text (BOS) when the tokenizer adds one, else the BOS/EOS token's text. */
function startPrompt(lm: LoadedLm): string {
  if (lm.tokenizer.encode('').length > 0) return '';
  const id = lm.spec.bosTokenId ?? lm.spec.eosTokenIds[0];
  if (id === undefined || id === null)
    throw new Error(`${lm.label} has neither a BOS nor an EOS token to start self-generated calibration from`);
  return lm.tokenizer.decode([id], { skip_special_tokens: false });
}

/** `samples` windows of `seqLen` tokens, cut in order from sequences the model generated. */
export async function selfCalibration(
  lm: LoadedLm,
  size: CalibrationSize,
  seed: number,
  signal?: AbortSignal,
  onStatus?: (msg: string) => void,
): Promise<{ ids: number[][]; sourceTokens: number }> {
  const need = size.samples * size.seqLen;
  const seqs = await generateSequences(lm, need, size.seqLen, seed, signal, onStatus);
  const stream = seqs.flat();
  const ids = Array.from({ length: size.samples }, (_, i) => stream.slice(i * size.seqLen, (i + 1) * size.seqLen));
  return { ids, sourceTokens: stream.length };
}

/** Held-out text the model writes itself (e.g. for KL / perplexity against its compressed variants). */
export async function selfGeneratedText(lm: LoadedLm, tokens: number, seed: number, maxLen = 128): Promise<string> {
  const seqs = await generateSequences(lm, tokens, maxLen, seed);
  return seqs.map((ids) => lm.tokenizer.decode(ids, { skip_special_tokens: true }).trim()).join('\n\n');
}

export function builtinDocuments(): readonly string[] {
  return BUILTIN_CALIBRATION;
}

export async function fetchCalibrationText(url: string, signal?: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal, cache: 'no-store' });
  } catch (err) {
    const why =
      typeof location !== 'undefined' && !allowedByPagePolicy(url, location.origin)
        ? `this page's Content-Security-Policy allows only ${location.origin} and the Hugging Face hub; serve the text from this site`
        : 'the host must allow CORS';
    throw new Error(`could not fetch calibration text from ${url}: ${(err as Error).message} (${why})`, { cause: err });
  }
  if (!res.ok) throw new Error(`calibration text at ${url}: HTTP ${res.status}`);
  return res.text();
}
