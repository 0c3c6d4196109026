import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { EvalRecord } from '../eval';
import type { ResultEntry } from './results';
import type { RunDoc } from './types';
import type { StoredReference } from './fidelity-step';
import { requestToPromise } from '../storage/stores';

/**
 * Runs, their finished records and their per-perspective results in IndexedDB. Every record is
 * written as it finishes, so a reload or a crash resumes a run without recomputing anything.
 */
export class RunStore {
  private readonly runs: UseStore;
  private readonly records: UseStore;
  private readonly results: UseStore;
  private readonly references: UseStore;

  constructor(prefix = 'ctlab') {
    this.runs = createStore(`${prefix}-runs`, 'runs');
    this.records = createStore(`${prefix}-run-records`, 'records');
    this.results = createStore(`${prefix}-run-results`, 'results');
    this.references = createStore(`${prefix}-run-fidelity`, 'references');
  }

  saveRun(doc: RunDoc): Promise<void> {
    return set(doc.id, { ...doc, updatedAt: Date.now() }, this.runs);
  }

  getRun(id: string): Promise<RunDoc | undefined> {
    return get<RunDoc>(id, this.runs);
  }

  async listRuns(): Promise<RunDoc[]> {
    return (await values<RunDoc>(this.runs)).sort((a, b) => b.createdAt - a.createdAt);
  }

  async deleteRun(id: string): Promise<void> {
    const range = IDBKeyRange.bound([id], [id, []]);
    await this.records('readwrite', (s) => requestToPromise(s.delete(range)));
    await this.results('readwrite', (s) => requestToPromise(s.delete(range)));
    await del(id, this.references);
    await del(id, this.runs);
  }

  putRecord(runId: string, variant: string, key: string, record: EvalRecord): Promise<void> {
    return set([runId, variant, key], record, this.records);
  }

  /** Finished records of one variant, by record key. */
  async finishedRecords(runId: string, variant: string): Promise<Map<string, EvalRecord>> {
    const range = IDBKeyRange.bound([runId, variant], [runId, variant, []]);
    return this.records('readonly', async (s) => {
      const [keys, vals] = await Promise.all([requestToPromise(s.getAllKeys(range)), requestToPromise(s.getAll(range))]);
      return new Map(keys.map((k, i) => [(k as [string, string, string])[2], vals[i] as EvalRecord]));
    });
  }

  countRecords(runId: string): Promise<number> {
    return this.records('readonly', (s) => requestToPromise(s.count(IDBKeyRange.bound([runId], [runId, []]))));
  }

  putResult(runId: string, entry: ResultEntry): Promise<void> {
    return set([runId, entry.variant, entry.perspective, entry.mode], entry, this.results);
  }

  async resultsOf(runId: string): Promise<ResultEntry[]> {
    const range = IDBKeyRange.bound([runId], [runId, []]);
    return this.results('readonly', async (s) => (await requestToPromise(s.getAll(range))) as ResultEntry[]);
  }

  /** Dense's distributions on the run's held-out text, which every variant's fidelity is measured against. */
  putReference(runId: string, ref: StoredReference): Promise<void> {
    return set(runId, ref, this.references);
  }

  reference(runId: string): Promise<StoredReference | undefined> {
    return get<StoredReference>(runId, this.references);
  }
}

/** Notes on every stored run that used one of the deleted models; returns the ids of the runs changed. */
export async function markDeletedInRuns(
  runs: Pick<RunStore, 'listRuns' | 'saveRun'>,
  baseKey: string,
  labels: Map<string, string>,
): Promise<string[]> {
  const baseLabel = labels.get(baseKey) ?? baseKey;
  const changed: string[] = [];
  for (const doc of await runs.listRuns()) {
    let touched = false;
    for (const info of Object.values(doc.variants)) {
      if (!info.key || !labels.has(info.key) || info.deleted) continue;
      info.deleted =
        info.key === baseKey
          ? `model deleted: ${baseLabel} was removed from the cache; these results stay, but the run cannot be resumed`
          : `variant deleted: ${labels.get(info.key)} was removed from the cache with its base model ${baseLabel}; these results stay, but the run cannot be resumed`;
      touched = true;
    }
    if (touched) {
      await runs.saveRun(doc);
      changed.push(doc.id);
    }
  }
  return changed;
}
