import { describe, expect, it } from 'vitest';
import { executeRun, newRun, resultsDoc } from '../../../src/lib/run/orchestrator';
import type { RunEvent, RunPlan } from '../../../src/lib/run/types';
import { RunProgressModel } from '../../../src/lib/run/progress';
import { parseVariants } from '../../../src/lib/variants/spec';
import { urlSource } from '../../../src/lib/model/sources';
import { RunStore } from '../../../src/lib/run/run-store';
import { freshCache, STORIES } from '../helpers';

function plan(): RunPlan {
  return {
    model: urlSource(`${location.origin}${STORIES}`),
    variants: parseVariants('dense'),
    perspectives: ['machine_ethics', 'mmlu'],
    preset: 'smoke',
    mode: 'generate',
    seed: 5,
    data: { kind: 'offline', base: `${location.origin}/offline-data/` },
    device: 'wasm',
    calibration: { source: 'self', samples: 4, seqLen: 64 },
    // Records are stored a batch at a time: batches of two let the run stop part way through MMLU.
    batchSize: 2,
  };
}

describe('runs persist every finished record and resume without recomputing', () => {
  it('a run cancelled mid-evaluation resumes where it stopped', async () => {
    const cache = freshCache();
    const store = new RunStore(`test-${crypto.randomUUID()}`);
    const doc = newRun(plan());
    await store.saveRun(doc);

    const controller = new AbortController();
    const first: RunEvent[] = [];
    const stopped = await executeRun(
      doc.id,
      { cache, store },
      (e) => {
        first.push(e);
        if (e.phase === 'evaluate' && e.perspective === 'mmlu' && e.done === 2) controller.abort();
      },
      controller.signal,
    ).catch((e: Error) => e);
    expect(stopped).toBeInstanceOf(Error);
    expect((await store.getRun(doc.id))?.status).toBe('cancelled');
    const stored = await store.countRecords(doc.id);
    const ethicsTotal = first.filter((e) => e.phase === 'evaluate' && e.perspective === 'machine_ethics').at(-1);
    expect(ethicsTotal && ethicsTotal.phase === 'evaluate' && ethicsTotal.done).toBe(
      ethicsTotal && ethicsTotal.phase === 'evaluate' && ethicsTotal.total,
    );
    expect(stored).toBeGreaterThanOrEqual(((ethicsTotal as { total: number }).total ?? 0) + 2);
    expect((await store.resultsOf(doc.id)).map((r) => r.perspective)).toEqual(['machine_ethics']);
    // The stopped run names its model and its estimate; its results so far are marked partial.
    const stoppedDoc = (await store.getRun(doc.id))!;
    expect(stoppedDoc.modelLabel).toMatch(/stories260k/);
    expect(stoppedDoc.estimate?.minutes).toBeGreaterThan(0);
    expect(stoppedDoc.finishedAt).toBeUndefined();
    expect(resultsDoc(stoppedDoc, await store.resultsOf(doc.id)).partial).toEqual({ done: 0, total: 1 });
    expect(first.find((e) => e.phase === 'plan')).toMatchObject({ outline: { done: [], variants: [{ id: 'dense', finished: false }] } });

    const second: RunEvent[] = [];
    const results = await executeRun(doc.id, { cache, store }, (e) => second.push(e));
    const evaluated = second.filter((e): e is Extract<RunEvent, { phase: 'evaluate' }> => e.phase === 'evaluate');
    // The finished perspective is not run again at all; the interrupted one reuses what was stored.
    expect(evaluated.some((e) => e.perspective === 'machine_ethics')).toBe(false);
    const mmlu = evaluated.filter((e) => e.perspective === 'mmlu').at(-1)!;
    expect(mmlu.reused).toBe(stored - (ethicsTotal as { total: number }).total);
    expect(mmlu.reused).toBeGreaterThanOrEqual(2);
    expect(await store.countRecords(doc.id)).toBe((ethicsTotal as { total: number }).total + mmlu.total);
    expect(results.results.map((r) => r.perspective)).toEqual(['machine_ethics', 'mmlu']);
    expect((await store.getRun(doc.id))?.status).toBe('done');
    expect(results.variants?.[0]).toMatchObject({ id: 'dense', device: 'wasm' });
    expect(results.variants?.[0].tokensPerSecond).toBeGreaterThan(0);
    expect(results.partial).toBeUndefined();
    expect(results.variants?.[0].fidelity).toMatchObject({ kl: 0, text: 'built-in' });

    // The second session knew what was done: its bar starts part way and ends full, never moving back.
    expect(second.find((e) => e.phase === 'plan')).toMatchObject({ outline: { done: ['dense|machine_ethics|generate'] } });
    const bar = new RunProgressModel();
    let last = 0;
    for (const [i, e] of second.entries()) {
      bar.apply(e, i);
      expect(bar.view().fraction).toBeGreaterThanOrEqual(last);
      if (e.phase === 'plan') expect(bar.view().fraction).toBeGreaterThan(0);
      last = bar.view().fraction;
    }
    expect(last).toBe(1);
    // Timings sum both sessions; the items counted are the ones computed, not the reused ones.
    const finalDoc = (await store.getRun(doc.id))!;
    const timings = finalDoc.variants.dense.timings!;
    expect(timings.evaluatedItems).toBe((ethicsTotal as { total: number }).total + mmlu.total - mmlu.reused);
    expect(timings.evaluateMs).toBeGreaterThan(0);
    expect(timings.loadMs).toBeGreaterThan(0);
    expect(finalDoc.finishedAt).toBeGreaterThanOrEqual(finalDoc.createdAt);
    expect(second.find((e) => e.phase === 'variant-done')).toMatchObject({ variant: 'dense', timings });
  }, 400_000);
});
