import { describe, expect, it } from 'vitest';
import { executeRun, newRun } from '../../../src/lib/run/orchestrator';
import type { RunEvent, RunPlan } from '../../../src/lib/run/types';
import { parseVariants } from '../../../src/lib/variants/spec';
import { urlSource } from '../../../src/lib/model/sources';
import { RunStore } from '../../../src/lib/run/run-store';
import { freshCache, STORIES } from '../helpers';

function plan(only?: string[]): RunPlan {
  return {
    model: urlSource(`${location.origin}${STORIES}`),
    variants: parseVariants('dense,rtn4'),
    perspectives: ['machine_ethics', 'mmlu'],
    preset: 'smoke',
    mode: 'generate',
    seed: 2,
    data: { kind: 'offline', base: `${location.origin}/offline-data/` },
    device: 'wasm',
    calibration: { source: 'self', samples: 4, seqLen: 64 },
    ...(only ? { only } : {}),
  };
}

describe("a shard's run", () => {
  it('evaluates only its cells and neither compresses nor loads a variant outside them', async () => {
    const cache = freshCache();
    const store = new RunStore(`test-${crypto.randomUUID()}`);
    const doc = newRun(plan(['dense|mmlu|generate']), 'plan-x-s2-shard0of4');
    await store.saveRun(doc);
    const events: RunEvent[] = [];
    // No compress function: reaching rtn4 would fail the run.
    const results = await executeRun(doc.id, { cache, store }, (e) => events.push(e));
    expect(results.results.map((r) => `${r.variant}|${r.perspective}`)).toEqual(['dense|mmlu']);
    const evaluated = new Set(events.flatMap((e) => (e.phase === 'evaluate' ? [`${e.variant}|${e.perspective}`] : [])));
    expect([...evaluated]).toEqual(['dense|mmlu']);
    expect(events.some((e) => e.phase === 'compress')).toBe(false);
    expect(results.variants?.map((v) => [v.id, v.key !== undefined])).toEqual([
      ['dense', true],
      ['rtn4', false],
    ]);
    expect((await store.getRun(doc.id))?.status).toBe('done');

    // The cell equals the same cell of the whole plan's run (its records are seeded per item, not per run).
    const whole = newRun({ ...plan(), variants: parseVariants('dense'), perspectives: ['mmlu'] });
    await store.saveRun(whole);
    const all = await executeRun(whole.id, { cache, store });
    const mmlu = all.results.find((r) => r.perspective === 'mmlu');
    expect(JSON.stringify(results.results[0])).toBe(JSON.stringify(mmlu));
  }, 600_000);
});
