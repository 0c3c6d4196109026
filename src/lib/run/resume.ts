import type { RunDoc, RunPlan } from './types';

/**
 * Whether a run stored for `stored` may go on under `plan`: the two differ at most in batch size,
 * which changes speed and never results.
 */
export function samePlan(stored: RunPlan, plan: RunPlan): boolean {
  const { batchSize: _a, ...a } = stored;
  const { batchSize: _b, ...b } = plan;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A stored run with how many of its records are kept. */
export interface StoredRun {
  doc: RunDoc;
  records: number;
}

/**
 * The stored run a restarted command should continue: one of the same plan that did not finish
 * (killed, crashed or cancelled), the one with the most work kept, then the newest. A finished
 * run is never continued: asking again for a finished plan measures it again.
 */
export function pickResumable(runs: readonly StoredRun[], plan: RunPlan): StoredRun | undefined {
  return runs
    .filter((r) => r.doc.status !== 'done' && samePlan(r.doc.plan, plan))
    .sort((x, y) => y.records - x.records || y.doc.updatedAt - x.doc.updatedAt)[0];
}
