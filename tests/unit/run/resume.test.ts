import { describe, expect, it } from 'vitest';
import { pickResumable, samePlan, type StoredRun } from '../../../src/lib/run/resume';
import type { RunDoc, RunPlan } from '../../../src/lib/run/types';

const plan: RunPlan = {
  model: { kind: 'url', baseUrl: 'http://localhost:1/m/' },
  variants: [{ id: 'dense', label: 'dense', method: 'dense' }],
  perspectives: ['stereotype', 'mmlu'],
  preset: 'smoke',
  mode: 'generate',
  seed: 3,
  data: { kind: 'offline', base: 'http://localhost:1/data/' },
  device: 'wasm',
  calibration: { source: 'builtin', samples: 4, seqLen: 64 },
};

function stored(id: string, status: RunDoc['status'], records: number, updatedAt: number, p: RunPlan = plan): StoredRun {
  return { doc: { id, createdAt: 0, updatedAt, plan: p, status, variants: {} }, records };
}

describe('samePlan', () => {
  it('ignores the batch size and nothing else', () => {
    expect(samePlan({ ...plan, batchSize: 4 }, { ...plan, batchSize: 1 })).toBe(true);
    expect(samePlan(plan, { ...plan, batchSize: 8 })).toBe(true);
    expect(samePlan(plan, { ...plan, seed: 4 })).toBe(false);
    expect(samePlan(plan, { ...plan, device: 'webgpu' })).toBe(false);
    expect(samePlan(plan, { ...plan, perspectives: ['stereotype'] })).toBe(false);
  });
});

describe('pickResumable', () => {
  it('continues the unfinished run of the plan with the most records kept, then the newest', () => {
    const runs = [
      stored('done', 'done', 90, 9),
      stored('killed-early', 'running', 5, 8),
      stored('killed-late', 'running', 40, 2),
      stored('crashed', 'failed', 40, 3),
      stored('other-plan', 'running', 80, 9, { ...plan, seed: 7 }),
    ];
    expect(pickResumable(runs, plan)?.doc.id).toBe('crashed');
    expect(pickResumable(runs, { ...plan, batchSize: 2 })?.doc.id).toBe('crashed');
    expect(pickResumable(runs.slice(0, 3), plan)?.doc.id).toBe('killed-late');
  });

  it('never continues a finished run nor one of another plan', () => {
    expect(pickResumable([stored('done', 'done', 90, 9)], plan)).toBeUndefined();
    expect(pickResumable([stored('x', 'cancelled', 3, 1, { ...plan, preset: 'paper' })], plan)).toBeUndefined();
    expect(pickResumable([], plan)).toBeUndefined();
    expect(pickResumable([stored('c', 'cancelled', 0, 1)], plan)?.doc.id).toBe('c');
  });
});
