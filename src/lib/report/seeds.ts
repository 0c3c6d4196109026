import type { PerspectiveId, ScoringMode } from '../eval/types';
import type { ResultsDoc } from '../run/results';
import { ci95 } from './summary';

/** One variant × perspective × mode over the seeds of a plan. */
export interface SeedSpread {
  variant: string;
  perspective: PerspectiveId;
  mode: ScoringMode;
  seeds: number[];
  scores: number[];
  mean: number;
  /** Sample standard deviation across seeds (n − 1); NaN with one seed. */
  sd: number;
  /** Mean half-width of the seeds' own 95% intervals, to set the spread beside. */
  ci: number;
}

/** The seeds a results file holds results of, in plan order. */
export function seedsOf(doc: ResultsDoc): number[] {
  return doc.settings.seeds ?? [doc.settings.seed];
}

/** A several-seed file cut down to one seed, so the per-item views compare variants, not seeds. */
export function oneSeed(doc: ResultsDoc, seed: number = seedsOf(doc)[0]): ResultsDoc {
  if (seedsOf(doc).length < 2) return doc;
  const { seeds: _seeds, ...settings } = doc.settings;
  return { ...doc, settings: { ...settings, seed }, results: doc.results.filter((r) => (r.seed ?? doc.settings.seed) === seed) };
}

/** Mean and spread across seeds of every cell, in the file's order; empty for a one-seed file. */
export function seedSpread(doc: ResultsDoc): SeedSpread[] {
  if (seedsOf(doc).length < 2) return [];
  const cells = new Map<string, SeedSpread>();
  for (const r of doc.results) {
    const key = `${r.variant}|${r.perspective}|${r.mode}`;
    let c = cells.get(key);
    if (!c) {
      c = { variant: r.variant, perspective: r.perspective, mode: r.mode, seeds: [], scores: [], mean: NaN, sd: NaN, ci: NaN };
      cells.set(key, c);
    }
    c.seeds.push(r.seed ?? doc.settings.seed);
    c.scores.push(r.score);
    c.ci = (Number.isNaN(c.ci) ? 0 : c.ci) + ci95(r.score, r.n);
  }
  for (const c of cells.values()) {
    const k = c.scores.length;
    c.mean = c.scores.reduce((a, b) => a + b, 0) / k;
    c.sd = k > 1 ? Math.sqrt(c.scores.reduce((a, s) => a + (s - c.mean) ** 2, 0) / (k - 1)) : NaN;
    c.ci /= k;
  }
  return [...cells.values()];
}
