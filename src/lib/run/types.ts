/**
 * The records a run is made of: its plan, its stored document, its events and what it learns
 * about each variant. Every module of `run/` reads these; this module imports none of them, so
 * `run/` has no import cycle.
 */
import type { PerspectiveId, ScoringMode } from '../eval';
import type { Device } from '../infer/causal-lm';
import type { ModelSource } from '../model/sources';
import type { ProgressEvent } from '../storage/shard-cache';
import type { CalibrationPlan } from '../variants/calibration';
import type { VariantReport } from '../variants/report';
import type { VariantMethod, VariantSpec } from '../variants/spec';
import type { DataSource } from './evaluate';
import type { HeldOutText } from './heldout-text';

/** Everything a run needs; stored with the run so a reload can resume it. */
export interface RunPlan {
  /** A source to download from, or a model already complete in the cache. */
  model: ModelSource | { kind: 'cached'; key: string };
  /** Dense and the compressed variants; a plan stored by an earlier version holds records without settings (`specOf`). */
  variants: VariantSpec[];
  perspectives: PerspectiveId[];
  preset: string;
  mode: ScoringMode | 'both';
  seed: number;
  data: DataSource;
  device: Device | 'auto';
  calibration: CalibrationPlan;
  /** A text-classification model that scores toxicity; absent: the offline lexicon proxy. */
  toxicityModel?: ModelSource;
  /** A shard's share: the `variant|perspective|mode` cells to evaluate; absent: every cell. */
  only?: string[];
  /** Variants already compressed elsewhere (an exported folder), by variant id: loaded, not compressed again. */
  variantSources?: Record<string, ModelSource>;
  /** The text fidelity to dense is measured on; absent: the built-in held-out text. */
  heldOut?: HeldOutText;
  /**
   * Prompts per forward pass in evaluation; absent: chosen per batch from the model and its
   * device (`infer/batch-size.ts`). Speed only: greedy outputs and option scores match batch 1,
   * and sampled outputs follow each record's own seed, so plan ids and unit ids leave it out.
   */
  batchSize?: number;
}

/** Timings of one variant in a run, summed over every session that worked on it (a resumed run has several). */
export interface VariantTimings {
  compressMs?: number;
  loadMs?: number;
  evaluateMs?: number;
  /** Items computed in `evaluateMs` (records reused from an interrupted session are not counted). */
  evaluatedItems?: number;
}

/** How long the parts of a run take on this machine: what the planner and the progress bar weigh work by. */
export interface CostRates {
  /** Seconds per evaluated item (one generation, or one prompt's options scored). */
  secondsPerItem: number;
  /** Seconds of compression per byte of the base model, by method. */
  compressSecondsPerByte: Partial<Record<VariantMethod, number>>;
  /** Seconds to load a variant and measure its decode speed before its evaluation. */
  loadSeconds: number;
  /** Earlier runs these rates were learned from; 0: the built-in guesses. */
  fromRuns: number;
}

/** How close a variant's next-token distributions stay to dense's on a held-out text. */
export interface FidelityToDense {
  /** Mean KL(dense ‖ variant) per token, in nats, over dense's top-K tokens plus one bucket for the rest (0 for dense). */
  kl: number;
  /** Perplexity on the held-out text. */
  ppl: number;
  /** Tokens predicted. */
  tokens: number;
  topK: number;
  /** `built-in`, or the label of the text the run was given. */
  text: string;
}

/** One model variant of a run: where it lives, how big and fast it is, how it was made. */
export interface VariantInfo {
  id: string;
  label: string;
  key?: string;
  /** Bytes of the graph it runs (weights included). */
  bytes?: number;
  /** What it would take with every compressed linear packed at its bit width (3-bit and pruned variants run unpacked). */
  idealBytes?: number;
  tokensPerSecond?: number;
  device?: string;
  adapter?: string | null;
  deviceNote?: string;
  /** Weight precision of the graph it ran (fp16 on WebGPU adapters with shader-f16), and why. */
  precision?: string;
  precisionNote?: string;
  /** The compression report, for compressed variants. */
  report?: VariantReport;
  /** How long its compression, loading and evaluation took (for calibrating later estimates). */
  timings?: VariantTimings;
  fidelity?: FidelityToDense;
  /** Set when the cached model this row ran was deleted ("variant deleted: …"); its results stay. */
  deleted?: string;
}

export interface RunDoc {
  id: string;
  createdAt: number;
  updatedAt: number;
  plan: RunPlan;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  error?: string;
  modelKey?: string;
  modelLabel?: string;
  /** Bytes of the base model, which compression time scales with. */
  modelBytes?: number;
  /** The time predicted when the run first started, and how many earlier runs it was calibrated on. */
  estimate?: { minutes: number; calibratedFrom: number };
  /** When the run finished; with `createdAt` and the variants' timings, the actual cost. */
  finishedAt?: number;
  variants: Record<string, VariantInfo>;
}

/** What a run (or what is left of a resumed one) will do, sent before any work so progress can be weighed. */
export interface RunOutline {
  variants: { id: string; label: string; method: VariantMethod; compressed: boolean; finished: boolean; timings?: VariantTimings }[];
  cells: { perspective: PerspectiveId; mode: ScoringMode }[];
  /** `variant|perspective|mode` of every cell already finished. */
  done: string[];
  preset: string;
  modelBytes: number;
  /** This machine's rates learned from earlier runs (or the defaults), until this run measures its own. */
  rates: CostRates;
}

export type RunEvent =
  | { phase: 'download'; progress: ProgressEvent }
  | { phase: 'compress'; variant: string; message: string; fraction: number | null }
  | { phase: 'evaluate'; variant: string; perspective: PerspectiveId; mode: ScoringMode; done: number; total: number; reused: number }
  | { phase: 'plan'; outline: RunOutline }
  | { phase: 'variant-start'; variant: string }
  | { phase: 'load'; variant: string }
  | { phase: 'graph'; variant: string; done: number; total: number }
  | { phase: 'fidelity'; variant: string; done: number; total: number }
  | { phase: 'variant-done'; variant: string; timings?: VariantTimings }
  | { phase: 'done'; results: number }
  | { phase: 'error'; message: string };
