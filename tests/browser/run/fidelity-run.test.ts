import { describe, expect, it } from 'vitest';
import { executeRun, newRun } from '../../../src/lib/run/orchestrator';
import type { RunEvent, RunPlan } from '../../../src/lib/run/types';
import { parseVariants } from '../../../src/lib/variants/spec';
import { urlSource } from '../../../src/lib/model/sources';
import { RunStore } from '../../../src/lib/run/run-store';
import { compressForRuns } from '../../../src/lib/variants/run-compress';
import { freshCache, STORIES } from '../helpers';

type FidelityEvent = Extract<RunEvent, { phase: 'fidelity' }>;

describe('fidelity to dense in a run', () => {
  it('measures every variant against dense, computing the reference once even across a resume', async () => {
    const cache = freshCache();
    const store = new RunStore(`test-${crypto.randomUUID()}`);
    // rtn8 ahead of dense: its fidelity needs dense's reference before dense's own turn.
    const plan: RunPlan = {
      model: urlSource(`${location.origin}${STORIES}`),
      variants: parseVariants('rtn8,dense,rtn3'),
      perspectives: ['machine_ethics'],
      preset: 'smoke',
      mode: 'generate',
      seed: 3,
      data: { kind: 'offline', base: `${location.origin}/offline-data/` },
      device: 'wasm',
      calibration: { source: 'self', samples: 4, seqLen: 64 },
    };
    const doc = newRun(plan);
    await store.saveRun(doc);
    const deps = { cache, store, compress: compressForRuns(cache) };

    const controller = new AbortController();
    const first: RunEvent[] = [];
    const stopped = await executeRun(
      doc.id,
      deps,
      (e) => {
        first.push(e);
        if (e.phase === 'variant-done' && e.variant === 'rtn8') controller.abort();
      },
      controller.signal,
    ).catch((e: Error) => e);
    expect(stopped).toBeInstanceOf(Error);
    const fidelity1 = first.filter((e): e is FidelityEvent => e.phase === 'fidelity');
    const denseDone = fidelity1.findIndex((e) => e.variant === 'dense' && e.done === e.total);
    const rtn8Start = fidelity1.findIndex((e) => e.variant === 'rtn8');
    expect(denseDone).toBeGreaterThanOrEqual(0);
    expect(rtn8Start).toBeGreaterThan(denseDone);
    const reference = await store.reference(doc.id);
    expect(reference?.label).toBe('built-in');
    expect(reference?.rows.topK).toBe(256);
    const stopDoc = await store.getRun(doc.id);
    expect(stopDoc?.variants.rtn8.fidelity?.kl).toBeGreaterThan(0);

    const second: RunEvent[] = [];
    const results = await executeRun(doc.id, deps, (e) => second.push(e));
    const fidelity2 = second.filter((e): e is FidelityEvent => e.phase === 'fidelity');
    // The stored reference is reused: dense is not run on the held-out text again, rtn8 not at all.
    expect(fidelity2.some((e) => e.variant === 'dense' || e.variant === 'rtn8')).toBe(false);
    expect(fidelity2.filter((e) => e.variant === 'rtn3').at(-1)).toMatchObject({ done: 1, total: 1 });

    const info = Object.fromEntries((results.variants ?? []).map((v) => [v.id, v.fidelity]));
    for (const id of ['dense', 'rtn8', 'rtn3']) {
      expect(info[id], id).toMatchObject({ text: 'built-in', topK: 256 });
      expect(info[id]!.tokens, id).toBe(reference!.rows.nll.length);
      expect(info[id]!.ppl, id).toBeGreaterThan(1);
    }
    expect(info.dense!.kl).toBe(0);
    expect(info.rtn8!.kl).toBeGreaterThan(0);
    expect(info.rtn3!.kl).toBeGreaterThan(info.rtn8!.kl * 10);
    expect(info.rtn3!.kl).toBeGreaterThan(0.05);
    expect(info.rtn3!.ppl).toBeGreaterThan(info.dense!.ppl);
    expect(Math.abs(Math.log(info.rtn8!.ppl / info.dense!.ppl))).toBeLessThan(0.05);
    // The held-out text is scored in one window on this model, a few hundred tokens long.
    expect(reference!.windows).toHaveLength(1);
    expect(info.dense!.tokens).toBeGreaterThan(200);
    await store.deleteRun(doc.id);
    expect(await store.reference(doc.id)).toBeUndefined();
  }, 300_000);
});
