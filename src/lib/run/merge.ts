/**
 * Results of one plan computed in pieces (per seed in one process, per shard across processes)
 * put together into the file a single process would have written: the same entries in the same
 * order, each one exactly as the process that computed it stored it.
 */
import type { ResultEntry, ResultsDoc, ResultsPlan } from './results';
import type { VariantInfo } from './types';
import { evalUnitId } from './units';

export class MergeError extends Error {
  override name = 'MergeError';
}

/** The evaluation unit a results entry belongs to. */
export function unitOf(entry: ResultEntry, doc: ResultsDoc): string {
  return evalUnitId(entry.seed ?? doc.settings.seed, entry.variant, entry.perspective, entry.mode);
}

/** Entries ordered as the plan lists its units. */
function inPlanOrder(entries: { unit: string; entry: ResultEntry }[], plan: Pick<ResultsPlan, 'evalUnits'>): ResultEntry[] {
  const order = new Map(plan.evalUnits.map((u, i) => [u, i]));
  return [...entries].sort((a, b) => (order.get(a.unit) ?? Infinity) - (order.get(b.unit) ?? Infinity)).map((e) => e.entry);
}

/** Per variant, the first description that names a cached model (the one that ran), else the first. */
function pickVariants(docs: ResultsDoc[]): VariantInfo[] | undefined {
  const lists = docs.map((d) => d.variants ?? []);
  const ids = lists[0]?.map((v) => v.id) ?? [];
  if (!ids.length) return undefined;
  return ids.map((id) => {
    const all = lists.flatMap((l) => l.filter((v) => v.id === id));
    return all.find((v) => v.key !== undefined) ?? all[0];
  });
}

/**
 * One process's file from the per-seed documents of its run: entries tagged with their seed when
 * the plan has several, in plan order, and the plan block saying which units the file holds.
 */
export function assembleResults(parts: { seed: number; doc: ResultsDoc }[], plan: Omit<ResultsPlan, 'units'>, units: string[]): ResultsDoc {
  if (!parts.length) throw new Error('nothing to assemble: no seed was run');
  const several = plan.seeds.length > 1;
  const entries = parts.flatMap(({ seed, doc }) =>
    doc.results.map((r) => {
      const entry: ResultEntry = several ? { ...r, seed } : r;
      return { unit: evalUnitId(seed, r.variant, r.perspective, r.mode), entry };
    }),
  );
  const first = parts[0].doc;
  const variants = pickVariants(parts.map((p) => p.doc));
  const doc: ResultsDoc = {
    ...first,
    settings: { ...first.settings, seed: plan.seeds[0], ...(several ? { seeds: [...plan.seeds] } : {}) },
    plan: { ...plan, units: plan.evalUnits.filter((u) => units.includes(u)) },
    ...(variants ? { variants } : {}),
    results: inPlanOrder(entries, plan),
  };
  return doc;
}

/**
 * Shards' files into the plan's whole file. Refuses files of different plans, a unit present in
 * two files, entries a file does not claim, and a plan with units no file holds (naming them).
 */
export function mergeShards(files: { name: string; doc: ResultsDoc }[]): ResultsDoc {
  if (!files.length) throw new MergeError('merge needs at least one results file');
  for (const f of files) if (!f.doc.plan) throw new MergeError(`${f.name} has no plan id (it was not written by ctlab eval)`);
  const plan = files[0].doc.plan as ResultsPlan;
  const other = files.find((f) => f.doc.plan?.id !== plan.id);
  if (other) throw new MergeError(`${other.name} belongs to plan ${other.doc.plan?.id}, ${files[0].name} to plan ${plan.id}`);
  const owner = new Map<string, string>();
  const entries: { unit: string; entry: ResultEntry }[] = [];
  for (const { name, doc } of files) {
    const claimed = new Set(doc.plan?.units);
    for (const unit of claimed) {
      const before = owner.get(unit);
      if (before) throw new MergeError(`unit ${unit} is in both ${before} and ${name}`);
      owner.set(unit, name);
    }
    const held = new Set<string>();
    for (const entry of doc.results) {
      const unit = unitOf(entry, doc);
      if (!claimed.has(unit)) throw new MergeError(`${name} holds ${unit}, which its plan block does not list`);
      held.add(unit);
      entries.push({ unit, entry });
    }
    const empty = [...claimed].find((u) => !held.has(u));
    if (empty) throw new MergeError(`${name} lists ${empty} but holds no result for it`);
  }
  const missing = plan.evalUnits.filter((u) => !owner.has(u));
  if (missing.length)
    throw new MergeError(`${missing.length} of ${plan.evalUnits.length} units of plan ${plan.id} are in no file: ${missing.join(', ')}`);
  // Settings and model come from the file that ran the plan's first unit, as in a single run.
  const ordered = [...files].sort((a, b) => (a.doc.plan?.shard?.index ?? 0) - (b.doc.plan?.shard?.index ?? 0)).map((f) => f.doc);
  const lead = files.find((f) => f.name === owner.get(plan.evalUnits[0]))?.doc ?? ordered[0];
  const variants = pickVariants(ordered);
  const { shard: _shard, ...whole } = plan;
  return {
    ...lead,
    model: ordered.find((d) => d.model.key)?.model ?? lead.model,
    plan: { ...whole, units: [...plan.evalUnits] },
    ...(variants ? { variants } : {}),
    results: inPlanOrder(entries, plan),
  };
}
