import type { ShardCache } from '../storage/shard-cache';

/**
 * Deleting a model deletes what was made from its weights: its compressed variants (entries
 * whose source is `{ kind: 'variant', location: <model key> }`), and theirs in turn. A variant
 * left behind would be reused by the next run of a re-downloaded model though it was
 * compressed from other weights. Stored runs keep their results but say which of their
 * models is gone.
 */

export interface DeletedModels {
  /** Every cache key removed, variants first. */
  deleted: string[];
  /** Ids of the stored runs whose variants now carry a `deleted` note. */
  runs: string[];
}

/** Keys of the variants made from `key`, and of the variants made from those. */
export async function variantsOf(cache: ShardCache, key: string): Promise<string[]> {
  const all = await cache.listModels();
  const found: string[] = [];
  const queue = [key];
  while (queue.length > 0) {
    const base = queue.shift()!;
    for (const m of all) {
      if (m.source.kind === 'variant' && m.source.location === base && !found.includes(m.key) && m.key !== key) {
        found.push(m.key);
        queue.push(m.key);
      }
    }
  }
  return found;
}

/**
 * Told which models went (cache key → label) and which of them was the base; returns the ids of
 * the stored runs it noted the deletion on (the run store's `markDeletedInRuns`).
 */
export type OnModelsDeleted = (baseKey: string, labels: Map<string, string>) => Promise<string[]>;

export async function deleteModelAndVariants(cache: ShardCache, key: string, onDeleted?: OnModelsDeleted): Promise<DeletedModels> {
  const base = await cache.manifest(key);
  const variants = await variantsOf(cache, key);
  const labels = new Map<string, string>();
  for (const k of variants) labels.set(k, (await cache.manifest(k))?.label ?? k);
  labels.set(key, base?.label ?? key);
  // Variants first: a delete cut short leaves a base with fewer variants, never a variant without its base.
  for (const k of [...variants].reverse()) await cache.deleteModel(k);
  await cache.deleteModel(key);
  const deleted = [...variants, key];
  const touched = onDeleted ? await onDeleted(key, labels) : [];
  return { deleted, runs: touched };
}
