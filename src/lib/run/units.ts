/**
 * A run's work as deterministic units, so a scheduler (GNU parallel, a Slurm array, a Kubernetes
 * Indexed Job) can hand each of N processes its share and the shares merge back into one result.
 * A unit's id depends only on the plan's inputs and the unit's place in it, never on where or when
 * it runs.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { getPerspective, getPreset, PERSPECTIVE_IDS, type DataFileRef, type PerspectiveId, type ScoringMode } from '../eval';
import type { CalibrationPlan } from '../variants/calibration';
import { variantRecord, type VariantRecord, type VariantSpec } from '../variants/spec';

/** What decides a plan's results; two processes with equal inputs compute the same units. */
export interface PlanInputs {
  /** The model as the user named it (a folder's absolute path, a URL or a hub id), not as served. */
  model: string;
  /** Specs, or records as a plan file holds them; the plan keeps (and its id hashes) the records. */
  variants: (VariantSpec | VariantRecord)[];
  perspectives: PerspectiveId[];
  preset: string;
  mode: ScoringMode | 'both';
  seeds: number[];
  /** `offline` or the data folder as the user named it. */
  data: string;
  /** The plan's `CalibrationPlan`, as a plan file holds it. */
  calibration: Omit<CalibrationPlan, 'source'> & { source: string };
  toxicityModel?: string;
}

export interface CompressUnit {
  id: string;
  kind: 'compress';
  seed: number;
  variant: string;
  /** What it reads: the base model and the calibration text (its seed picks the samples). */
  needs: { model: string; calibration: PlanInputs['calibration'] };
}

export interface EvalUnit {
  id: string;
  kind: 'evaluate';
  seed: number;
  variant: string;
  perspective: PerspectiveId;
  mode: ScoringMode;
  /** Every item the preset picks for this perspective; a cell is scored over all its items at once. */
  items: 'all';
  /** What it reads: the variant (the compress unit's output, or the model itself for dense) and the perspective's data. */
  needs: {
    model: string;
    compressUnit: string | null;
    data: string;
    dataFolder: string | null;
    /** The files under `data` it reads when `data` is a folder (the offline set lists its own). */
    dataFiles: DataFileRef[];
    toxicityModel: string | null;
  };
}

export type WorkUnit = CompressUnit | EvalUnit;

export interface UnitPlan {
  format: 'ctlab-plan';
  version: 1;
  /** Hash of the inputs: results files of one plan carry it, and only they merge. */
  id: string;
  inputs: PlanInputs & { variants: VariantRecord[] };
  units: WorkUnit[];
}

/** The perspectives × modes a plan evaluates, in order. */
export function plannedCells(plan: { perspectives: PerspectiveId[]; mode: ScoringMode | 'both' }): {
  perspective: PerspectiveId;
  mode: ScoringMode;
}[] {
  const ids = plan.perspectives.length ? plan.perspectives : [...PERSPECTIVE_IDS];
  return ids.flatMap((perspective) => {
    const modes: ScoringMode[] = plan.mode === 'both' ? ['generate', 'likelihood'] : [plan.mode];
    return modes.filter((m) => getPerspective(perspective).modes.includes(m)).map((mode) => ({ perspective, mode }));
  });
}

/** JSON with object keys sorted, so equal inputs hash equally whatever order they were built in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function planId(inputs: PlanInputs): string {
  return bytesToHex(sha256(utf8ToBytes(canonical({ ...inputs, variants: inputs.variants.map(variantRecord) })))).slice(0, 16);
}

export const compressUnitId = (seed: number, variant: string): string => `s${seed}/compress/${variant}`;
export const evalUnitId = (seed: number, variant: string, perspective: PerspectiveId, mode: ScoringMode): string =>
  `s${seed}/eval/${variant}/${perspective}/${mode}`;

/** Every unit of a plan: per seed, each compressed variant's compression, then each variant × cell. */
export function planUnits(given: PlanInputs): UnitPlan {
  // Plan files and their ids stay what they were before specs held settings.
  const inputs = { ...given, variants: given.variants.map(variantRecord) };
  if (!inputs.seeds.length) throw new Error('a plan needs at least one seed');
  if (new Set(inputs.seeds).size !== inputs.seeds.length) throw new Error(`seed listed twice: ${inputs.seeds.join(',')}`);
  const cells = plannedCells(inputs);
  const preset = getPreset(inputs.preset);
  const units: WorkUnit[] = [];
  for (const seed of inputs.seeds) {
    for (const v of inputs.variants)
      if (v.method !== 'dense')
        units.push({
          id: compressUnitId(seed, v.id),
          kind: 'compress',
          seed,
          variant: v.id,
          needs: { model: inputs.model, calibration: inputs.calibration },
        });
    for (const v of inputs.variants)
      for (const { perspective, mode } of cells)
        units.push({
          id: evalUnitId(seed, v.id, perspective, mode),
          kind: 'evaluate',
          seed,
          variant: v.id,
          perspective,
          mode,
          items: 'all',
          needs: {
            model: inputs.model,
            compressUnit: v.method === 'dense' ? null : compressUnitId(seed, v.id),
            data: inputs.data,
            dataFolder: getPerspective(perspective).dtFolder ?? null,
            dataFiles: getPerspective(perspective).files(preset),
            toxicityModel: perspective === 'toxicity' ? (inputs.toxicityModel ?? null) : null,
          },
        });
  }
  return { format: 'ctlab-plan', version: 1, id: planId(inputs), inputs, units };
}

export const evalUnits = (plan: UnitPlan): EvalUnit[] => plan.units.filter((u): u is EvalUnit => u.kind === 'evaluate');

/** Parses `K/N` (K from 0 to N − 1, like a Kubernetes completion index). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 0 && index < count)) throw new Error(`--shard takes K/N with 0 ≤ K < N, not "${text}"`);
  return { index, count };
}

/**
 * Shard `index` of `count`: a contiguous block of the evaluation units (variant-major, so a shard
 * needs as few variants as it can), plus the compression of every variant its block evaluates.
 * Blocks differ in size by at most one unit; a shard beyond the number of units gets none.
 * A variant whose units straddle two blocks is compressed by both shards (deterministically, from
 * the same seed), unless its exported folder is supplied to them.
 */
export function shardUnits(plan: UnitPlan, index: number, count: number): WorkUnit[] {
  const evals = evalUnits(plan);
  const base = Math.floor(evals.length / count);
  const extra = evals.length % count;
  const start = index * base + Math.min(index, extra);
  const mine = evals.slice(start, start + base + (index < extra ? 1 : 0));
  const needed = new Set(mine.flatMap((u) => (u.needs.compressUnit ? [u.needs.compressUnit] : [])));
  return plan.units.filter((u) => (u.kind === 'compress' ? needed.has(u.id) : mine.includes(u)));
}

/** A process's evaluation units grouped per seed as the run filter takes them (`variant|perspective|mode`), in seed order. */
export function cellsBySeed(plan: UnitPlan, units: WorkUnit[]): { seed: number; cells: string[] }[] {
  return plan.inputs.seeds
    .map((seed) => ({
      seed,
      cells: units.flatMap((u) => (u.kind === 'evaluate' && u.seed === seed ? [`${u.variant}|${u.perspective}|${u.mode}`] : [])),
    }))
    .filter((s) => s.cells.length > 0);
}

/** The stored run of one seed of one shard: the same name after a restart, so the run resumes. */
export function shardRunId(plan: UnitPlan, seed: number, shard: { index: number; count: number }): string {
  return `plan-${plan.id}-s${seed}-shard${shard.index}of${shard.count}`;
}
