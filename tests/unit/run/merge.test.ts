import { describe, expect, it } from 'vitest';
import type { PerspectiveId, ScoringMode } from '../../../src/lib/eval';
import { assembleResults, mergeShards } from '../../../src/lib/run/merge';
import type { ResultEntry, ResultsDoc } from '../../../src/lib/run/results';
import { cellsBySeed, evalUnits, planUnits, shardUnits, type UnitPlan } from '../../../src/lib/run/units';
import { parseVariants } from '../../../src/lib/variants/spec';

const perspectives: PerspectiveId[] = ['toxicity', 'fairness', 'mmlu'];

function plan(seeds: number[]): UnitPlan {
  return planUnits({
    model: '/models/stories260k',
    variants: parseVariants('dense,rtn4,gptq3'),
    perspectives,
    preset: 'smoke',
    mode: 'generate',
    seeds,
    data: 'offline',
    calibration: { source: 'self', samples: 16, seqLen: 128 },
  });
}

/** What a run of one seed stores for a cell: a score that differs per cell and seed, and its records. */
function entry(variant: string, perspective: PerspectiveId, mode: ScoringMode, seed: number): ResultEntry {
  const score = (variant.length * 7 + perspective.length * 3 + seed * 11) % 100;
  return {
    variant,
    perspective,
    mode,
    score,
    refusalRate: seed,
    n: 5,
    breakdown: { [`${variant}/${seed}`]: score },
    loadErrors: [],
    run: undefined,
    records: { format: 'ctlab-eval-records', version: 1, perspective, mode, records: [] },
  } as ResultEntry;
}

/** The document a run of one seed returns when it evaluated `cells` (`variant|perspective|mode`). */
function seedDoc(seed: number, cells: string[]): ResultsDoc {
  return {
    format: 'ctlab-results',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    model: { key: 'm', label: 'stories260k' },
    settings: { preset: 'smoke', seed, modes: ['generate'], perspectives, data: 'built-in offline set', device: 'wasm', adapter: null },
    variants: parseVariants('dense,rtn4,gptq3').map((v) =>
      cells.some((c) => c.startsWith(`${v.id}|`)) ? { id: v.id, label: v.label, key: `${v.id}-key` } : { id: v.id, label: v.label },
    ),
    // A run returns its cells in its own order; assembling puts them in plan order.
    results: [...cells].reverse().map((c) => {
      const [variant, perspective, mode] = c.split('|');
      return entry(variant, perspective as PerspectiveId, mode as ScoringMode, seed);
    }),
  };
}

/** What `ctlab eval` writes for shard `k` of `n` (or the whole plan without one). */
function runFile(p: UnitPlan, shard?: { index: number; count: number }): ResultsDoc {
  const mine = shard ? shardUnits(p, shard.index, shard.count) : p.units;
  const parts = cellsBySeed(p, mine).map(({ seed, cells }) => ({ seed, doc: seedDoc(seed, cells) }));
  return assembleResults(
    parts,
    { id: p.id, seeds: p.inputs.seeds, evalUnits: evalUnits(p).map((u) => u.id), ...(shard ? { shard } : {}) },
    mine.map((u) => u.id),
  );
}

describe('merge', () => {
  for (const seeds of [[0], [0, 1, 2]])
    for (const count of [2, 3, 5])
      it(`of ${count} shards with seeds ${seeds.join(',')} equals the single run's file`, () => {
        const p = plan(seeds);
        const single = runFile(p);
        expect(single.results.map((r) => `${r.seed ?? 0}/${r.variant}/${r.perspective}`)).toEqual(
          evalUnits(p).map((u) => `${seeds.length > 1 ? u.seed : 0}/${u.variant}/${u.perspective}`),
        );
        const shards = Array.from({ length: count }, (_, k) => ({ name: `r${k}.json`, doc: runFile(p, { index: k, count }) }));
        // Files arrive in any order (a shell glob, a scheduler's output folder).
        expect(mergeShards([...shards].reverse())).toEqual(single);
        expect(JSON.stringify(mergeShards(shards))).toBe(JSON.stringify(single));
      });

  it('names every unit no file holds', () => {
    const p = plan([0]);
    const shards = [0, 1, 2].map((k) => ({ name: `r${k}.json`, doc: runFile(p, { index: k, count: 3 }) }));
    const lost = shards[1].doc.plan!.units;
    expect(lost).toHaveLength(3);
    expect(() => mergeShards([shards[0], shards[2]])).toThrow(`3 of 9 units of plan ${p.id} are in no file: ${lost.join(', ')}`);
  });

  it('refuses a unit in two files, files of another plan, and files without a plan', () => {
    const p = plan([0]);
    const a = { name: 'a.json', doc: runFile(p, { index: 0, count: 2 }) };
    const b = { name: 'b.json', doc: runFile(p, { index: 1, count: 2 }) };
    expect(() => mergeShards([a, b, { name: 'again.json', doc: a.doc }])).toThrow(
      /unit s0\/eval\/dense\/toxicity\/generate is in both a.json and again.json/,
    );
    const other = { name: 'other.json', doc: runFile(plan([1]), { index: 1, count: 2 }) };
    expect(() => mergeShards([a, other])).toThrow(/other.json belongs to plan [0-9a-f]+, a.json to plan/);
    const { plan: _plan, ...bare } = b.doc;
    expect(() => mergeShards([a, { name: 'bare.json', doc: bare }])).toThrow(/bare.json has no plan id/);
  });

  it('refuses a file whose results and plan block disagree', () => {
    const p = plan([0]);
    const a = runFile(p, { index: 0, count: 2 });
    const b = runFile(p, { index: 1, count: 2 });
    const extra = { ...b, results: [...b.results, a.results[0]] };
    expect(() =>
      mergeShards([
        { name: 'a.json', doc: { ...a, results: a.results.slice(1) } },
        { name: 'b.json', doc: b },
      ]),
    ).toThrow(/a.json lists s0\/eval\/dense\/toxicity\/generate but holds no result for it/);
    expect(() => mergeShards([{ name: 'b.json', doc: extra }])).toThrow(
      /b.json holds s0\/eval\/dense\/toxicity\/generate, which its plan block does not list/,
    );
  });
});
