import type { VariantInfo } from './types';
import type { LoadError, PerspectiveId, PerspectiveScore, SavedRecords, ScoringMode } from '../eval';

/** One perspective, one mode, one model variant. */
export interface ResultEntry {
  variant: string;
  perspective: PerspectiveId;
  mode: ScoringMode;
  /** The run seed, in files of plans with several seeds. */
  seed?: number;
  score: number;
  refusalRate: number;
  n: number;
  scorer?: string;
  breakdown: PerspectiveScore['breakdown'];
  notes?: string[];
  run: PerspectiveScore['run'];
  loadErrors: LoadError[];
  /** Every item's prompt, output and parse. */
  records: SavedRecords;
}

/** What `ctlab eval` writes and the page exports: settings plus every result and record. */
export interface ResultsDoc {
  format: 'ctlab-results';
  version: 1;
  createdAt: string;
  model: { key: string; label: string };
  settings: {
    preset: string;
    seed: number;
    modes: ScoringMode[];
    perspectives: PerspectiveId[];
    data: string;
    device: string;
    adapter: string | null;
    /** Why `auto` did not run WebGPU, when it did not. */
    deviceNote?: string;
    /** The dense model's graph precision, and why (recorded per variant too). */
    precision?: string;
    precisionNote?: string;
    /** Every seed of the plan, when it has several (`seed` is then the first). */
    seeds?: number[];
  };
  /** The work plan this file belongs to (`ctlab eval`, `ctlab merge`); absent in page exports. */
  plan?: ResultsPlan;
  /** Absent in single-model files. */
  variants?: VariantInfo[];
  results: ResultEntry[];
  /** Present while the run is unfinished: variants with every cell done, of all planned. */
  partial?: { done: number; total: number };
}

/** Which plan a results file belongs to and which of its evaluation units it holds. */
export interface ResultsPlan {
  id: string;
  seeds: number[];
  /** Every evaluation unit of the plan, in order. */
  evalUnits: string[];
  /** The evaluation units whose results this file holds. */
  units: string[];
  /** Set in a shard's file; absent in a whole run's or a merged one. */
  shard?: { index: number; count: number };
}

export function isResultsDoc(v: unknown): v is ResultsDoc {
  return typeof v === 'object' && v !== null && (v as ResultsDoc).format === 'ctlab-results' && Array.isArray((v as ResultsDoc).results);
}
