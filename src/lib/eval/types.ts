/**
 * Shared types of the trust evaluation engine (protocol: DecodingTrust, Wang et al., 2023; layout: docs/design.md).
 *
 * The engine is model-independent: a perspective turns native data files into items, items into
 * prompts, model outputs (or option log-likelihoods) into parsed answers, and parsed answers into a
 * 0–100 score with a refusal rate. The runner (src/lib/run) owns the model; nothing here imports
 * transformers.js, node: modules or the DOM, so the same code runs in a worker, the page and Vitest.
 */
import type { Preset } from './presets';

export type PerspectiveId =
  'stereotype' | 'privacy' | 'toxicity' | 'fairness' | 'adv_robustness' | 'ood' | 'adv_demonstration' | 'machine_ethics' | 'mmlu';

export const PERSPECTIVE_IDS: readonly PerspectiveId[] = [
  'stereotype',
  'privacy',
  'toxicity',
  'fairness',
  'adv_robustness',
  'ood',
  'adv_demonstration',
  'machine_ethics',
  'mmlu',
];

/**
 * `generate`: sample/greedy-decode and parse the text (the DecodingTrust protocol).
 * `likelihood`: score each candidate continuation in `EvalPrompt.options` and take the most likely
 * (lm-evaluation-harness style). Every score says which mode produced it.
 */
export type ScoringMode = 'generate' | 'likelihood';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Chat messages go through the model's own chat template; raw text (MMLU) goes in verbatim. */
export type PromptInput = { kind: 'chat'; messages: ChatMessage[] } | { kind: 'text'; text: string };

export interface DecodingSettings {
  /** Budget of new tokens. */
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** Generations per prompt (EMT@n for toxicity, agreement share for stereotype). */
  n: number;
}

export interface EvalPrompt {
  /** Unique within a run: `${item.id}::${key}`. */
  id: string;
  /** Which of the item's prompts this is (most items have one prompt, key `main`). */
  key: string;
  input: PromptInput;
  decoding: DecodingSettings;
  /**
   * Candidate continuations for log-likelihood mode (classification tasks only). Each option, fed
   * to `parse` as if it were the output, parses to the answer it stands for.
   */
  options?: string[];
  /** Small facts a reader of the item explorer wants (shots used, system prompt type, ...). */
  meta?: Record<string, string | number | boolean>;
}

/** A native data file a perspective reads, relative to a data root (`decodingtrust/…`, `advglue/…`, `mmlu/…`). */
export interface DataFileRef {
  path: string;
  /** Read as bytes (`.npy`), not text. */
  binary?: boolean;
  /** Absent files are fine (AdvGLUE++, spurious correlations, label arrays a user may not have). */
  optional?: boolean;
}

/** A file handed to a loader: its path (relative to a data root, or any path ending in one) and contents. */
export interface DataFile {
  path: string;
  /** Text, or bytes (UTF-8 is decoded where text is needed; `.npy` stays binary). */
  text: string | Uint8Array;
}

/** A rejected line (or record) of a data file; `line` is 1-based, 0 when the problem is the whole file. */
export interface LoadError {
  file: string;
  line: number;
  message: string;
}

export interface LoadResult<Item> {
  items: Item[];
  errors: LoadError[];
}

/** Every item has a stable id (file + line based) and a cell: the stratum whose size the run records. */
export interface BaseItem {
  id: string;
  cell: string;
}

export interface PromptOptions {
  /** Decoding settings and shot counts come from the preset (default: `paper`). */
  preset?: Preset;
  /**
   * Whether a prompt fits the model's context (the runner tokenizes). Few-shot prompts drop
   * demonstrations until it does (MMLU: "fewer shots when over the context").
   */
  fits?: (prompt: EvalPrompt) => boolean;
}

export interface ParseContext {
  /** Run seed; used by the fairness coin flip when an answer holds both yes and no. */
  seed: number;
}

/** One model response (one generation, or one log-likelihood evaluation) to one prompt of one item. */
export interface EvalRecord<Item extends BaseItem = BaseItem, Parsed = unknown> {
  item: Item;
  prompt: EvalPrompt;
  /** Index of the generation among `prompt.decoding.n`. */
  sample?: number;
  output?: string;
  parsed?: Parsed;
  /** Summed log-likelihood of each of `prompt.options`, same order. */
  optionLogLikelihoods?: number[];
}

export interface PerspectiveScore {
  perspective: PerspectiveId;
  /** 0–100, higher is more trustworthy. */
  score: number;
  /** 0–100. */
  refusalRate: number;
  /** Records scored (generations, or likelihood evaluations). */
  n: number;
  breakdown: Record<string, number | Record<string, unknown>>;
  mode: ScoringMode;
  /** Which toxicity scorer produced the numbers (toxicity only). */
  scorer?: string;
  /**
   * DecodingTrust's own numbers, under DecodingTrust's names, where its definition differs from
   * ours (e.g. `dt_rejection_rate` beside `refusalRate`); filled when re-scoring its outputs.
   */
  decodingTrust?: Record<string, number>;
  notes?: string[];
  run?: RunInfo;
}

/** What a run records so it can be repeated and compared. */
export interface RunInfo {
  perspective: PerspectiveId;
  preset: string;
  seed: number;
  mode: ScoringMode;
  /** Items per cell. */
  sizes: Record<string, number>;
  items: number;
  prompts: number;
  /** The distinct decoding settings used, with how many prompts used each. */
  decoding: Array<DecodingSettings & { prompts: number }>;
  files: string[];
  scorer?: string;
}

export interface AnnotateContext {
  toxicityScorer?: ToxicityScorer;
}

export interface ScoreContext {
  seed?: number;
}

/** What a user may say about re-scored files whose names and paths do not say it. */
export interface RescoreContext {
  /** The setting or cell of every input (`--setting` / `--cell` in the CLI). */
  setting?: string;
  toxicityScorer?: ToxicityScorer;
  seed?: number;
}

/** Text → toxicity probability in [0, 1]. Every toxicity number carries the scorer's name. */
export interface ToxicityScorer {
  name: string;
  score(texts: string[]): Promise<number[]>;
}

/**
 * The uniform interface of one perspective (and MMLU). A runner calls, in order:
 * `files` → fetch → `load` → `select` → `prompts` → model → records → (`annotate`) → `score`.
 */
export interface Perspective<Item extends BaseItem = BaseItem, Parsed = unknown> {
  id: PerspectiveId;
  title: string;
  /** Which scoring modes make sense (generative perspectives are `generate` only). */
  modes: readonly ScoringMode[];
  /** Native files the preset needs, relative to a data root. */
  files(preset: Preset): DataFileRef[];
  /** Whether a user-supplied file (any path) belongs to this perspective. */
  accepts(path: string): boolean;
  /** Parses files; a malformed line is reported with file and line and the good lines are kept. */
  load(files: DataFile[]): LoadResult<Item>;
  /** Seeded, deterministic subset (and expansion into settings) for a preset. */
  select(items: Item[], preset: Preset, seed: number): Item[];
  prompts(item: Item, opts?: PromptOptions): EvalPrompt[];
  parse(item: Item, prompt: EvalPrompt, output: string, ctx?: ParseContext): Parsed;
  /** Async enrichment before scoring (toxicity: run the toxicity scorer). */
  annotate?(records: EvalRecord<Item, Parsed>[], ctx: AnnotateContext): Promise<EvalRecord<Item, Parsed>[]>;
  score(records: EvalRecord<Item, Parsed>[], mode: ScoringMode, ctx?: ScoreContext): PerspectiveScore;
  /** DecodingTrust's folder for this perspective (`data/<folder>`): where its data and outputs live. */
  dtFolder?: string;
  /**
   * Scores outputs DecodingTrust wrote or published (its generation caches and result files), with
   * the native data files some formats need for labels and options. Paths are kept as given: the
   * cell is often in them.
   */
  rescore?(inputs: DataFile[], data: DataFile[], ctx: RescoreContext): Promise<PerspectiveScore>;
}

/** Thrown on unusable input to a scorer (no records, mismatched option counts, ...). */
export class EvalError extends Error {
  override name = 'EvalError';
}
