import { describe, expect, it } from 'vitest';
import { DEFAULT_RATES, MIN_COMPRESS_SECONDS, ratesFromHistory } from '../../../src/lib/run/cost-model';
import type { VariantTimings } from '../../../src/lib/run/types';
import type { RunDoc, RunPlan } from '../../../src/lib/run/types';
import { estimatePlan } from '../../../src/lib/run/planner';
import { parseVariants } from '../../../src/lib/variants/spec';

function plan(ids: string): RunPlan {
  return {
    model: { kind: 'cached', key: 'm' },
    variants: parseVariants(ids),
    perspectives: ['machine_ethics', 'mmlu'],
    preset: 'smoke',
    mode: 'generate',
    seed: 0,
    data: { kind: 'offline', base: '' },
    device: 'wasm',
    calibration: { source: 'self', samples: 4, seqLen: 64 },
  };
}

function run(createdAt: number, ids: string, timings: Record<string, VariantTimings>, modelBytes = 1e9): RunDoc {
  return {
    id: `r${createdAt}`,
    createdAt,
    updatedAt: createdAt,
    plan: plan(ids),
    status: 'done',
    modelBytes,
    variants: Object.fromEntries(Object.entries(timings).map(([id, t]) => [id, { id, label: id, timings: t }])),
  };
}

describe('rates learned from earlier runs on this machine', () => {
  it('without a timed run, the defaults', () => {
    expect(ratesFromHistory([])).toBe(DEFAULT_RATES);
    // A run under way has its timings started but nothing measured yet.
    expect(ratesFromHistory([run(1, 'dense', { dense: {} })]).fromRuns).toBe(0);
  });

  it('seconds per item, per variant load and compression per byte come from the recorded timings', () => {
    const rates = ratesFromHistory([
      run(1, 'dense,gptq4', {
        dense: { loadMs: 2000, evaluateMs: 30_000, evaluatedItems: 10 },
        gptq4: { compressMs: 300_000, loadMs: 4000, evaluateMs: 50_000, evaluatedItems: 10 },
      }),
      run(2, 'dense', { dense: { loadMs: 3000, evaluateMs: 20_000, evaluatedItems: 20 } }),
    ]);
    expect(rates.fromRuns).toBe(2);
    expect(rates.secondsPerItem).toBeCloseTo(100 / 40, 9);
    expect(rates.loadSeconds).toBeCloseTo(3, 9);
    expect(rates.compressSecondsPerByte.gptq).toBeCloseTo(300 / 1e9, 15);
    // A method never run here is its default scaled by how GPTQ compared with its own default.
    const speed = 300e-9 / DEFAULT_RATES.compressSecondsPerByte.gptq!;
    expect(rates.compressSecondsPerByte.rtn).toBeCloseTo(DEFAULT_RATES.compressSecondsPerByte.rtn! * speed, 15);
  });

  it('only the newest runs count', () => {
    const old = Array.from({ length: 6 }, (_, i) => run(i, 'dense', { dense: { evaluateMs: 100_000, evaluatedItems: 10 } }));
    const rates = ratesFromHistory([...old, run(100, 'dense', { dense: { evaluateMs: 1000, evaluatedItems: 10 } })]);
    expect(rates.fromRuns).toBe(5);
    expect(rates.secondsPerItem).toBeCloseTo((1 + 4 * 100) / 50, 9);
  });

  it("a model's own runs count alone when there are any, however many newer runs of other models", () => {
    const of = (key: string, r: RunDoc): RunDoc => ({ ...r, modelKey: key });
    const history = [
      of('tiny', run(1, 'dense', { dense: { loadMs: 500, evaluateMs: 1000, evaluatedItems: 100 } })),
      ...Array.from({ length: 6 }, (_, i) =>
        of('big', run(10 + i, 'dense', { dense: { loadMs: 9000, evaluateMs: 90_000, evaluatedItems: 30 } })),
      ),
    ];
    const tiny = ratesFromHistory(history, 'tiny');
    expect(tiny.fromRuns).toBe(1);
    expect(tiny.secondsPerItem).toBeCloseTo(0.01, 9);
    expect(tiny.loadSeconds).toBeCloseTo(0.5, 9);
    expect(ratesFromHistory(history, 'big').secondsPerItem).toBeCloseTo(3, 9);
    // A model never run here: every model's newest runs, as without a key.
    expect(ratesFromHistory(history, 'new')).toEqual(ratesFromHistory(history));
    expect(ratesFromHistory(history).secondsPerItem).toBeCloseTo(3, 9);
  });
});

describe('the planner estimate', () => {
  it('says it is a guess without history and uses the measured rates with it', () => {
    const p = plan('dense,rtn4,gptq4');
    const guess = estimatePlan(p, 1e9);
    expect(guess.calibratedFrom).toBe(0);
    expect(guess.evaluations).toBe(6);
    const history = [
      run(1, 'dense,rtn4', { dense: { loadMs: 1000, evaluateMs: 10_000, evaluatedItems: 100 }, rtn4: { compressMs: 10_000 } }),
    ];
    const calibrated = estimatePlan(p, 1e9, ratesFromHistory(history));
    expect(calibrated.calibratedFrom).toBe(1);
    // 3 loads of 1 s, 6 cells of 25 items at 0.1 s, RTN at 10 s per GB and GPTQ scaled alike.
    const gptq = (DEFAULT_RATES.compressSecondsPerByte.gptq! * 1e9 * 10) / (DEFAULT_RATES.compressSecondsPerByte.rtn! * 1e9);
    expect(calibrated.minutes * 60).toBeCloseTo(3 + 6 * 25 * 0.1 + 10 + gptq, 6);
    expect(calibrated.minutes).toBeLessThan(guess.minutes);
  });

  it('no compression is estimated below the floor, however small the model', () => {
    // Dense is always part of a plan: two loads and four cells.
    expect(estimatePlan(plan('rtn4'), 1000).minutes * 60).toBeCloseTo(
      MIN_COMPRESS_SECONDS + 2 * DEFAULT_RATES.loadSeconds + 4 * 25 * DEFAULT_RATES.secondsPerItem,
      6,
    );
  });
});
