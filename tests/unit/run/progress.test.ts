import { describe, expect, it } from 'vitest';
import { DEFAULT_RATES } from '../../../src/lib/run/cost-model';
import type { CostRates } from '../../../src/lib/run/types';
import type { RunEvent, RunOutline } from '../../../src/lib/run/types';
import { RunProgressModel } from '../../../src/lib/run/progress';
import { parseVariants } from '../../../src/lib/variants/spec';

const CELLS: RunOutline['cells'] = [
  { perspective: 'machine_ethics', mode: 'generate' },
  { perspective: 'mmlu', mode: 'generate' },
];

function outline(ids: string, extra: Partial<RunOutline> = {}, rates: CostRates = DEFAULT_RATES): RunOutline {
  return {
    variants: parseVariants(ids).map((v) => ({
      id: v.id,
      label: v.label,
      method: v.method,
      compressed: v.method === 'dense',
      finished: false,
    })),
    cells: CELLS,
    done: [],
    preset: 'smoke',
    modelBytes: 1e6,
    rates,
    ...extra,
  };
}

/** How long things take on the simulated machine, in seconds. */
interface Machine {
  compress: number;
  load: number;
  perItem: number;
  items: Record<string, number>;
}

/** The events a run emits, each with the time it happens; `skip` leaves out cells already finished. */
function simulate(ids: string, m: Machine, skip = new Set<string>()): { at: number; e: RunEvent }[] {
  const out: { at: number; e: RunEvent }[] = [];
  let t = 0;
  for (const v of parseVariants(ids)) {
    const start = t;
    out.push({ at: t, e: { phase: 'variant-start', variant: v.id } });
    let compressMs = 0;
    if (v.method !== 'dense') {
      for (const f of [0.25, 0.5, 0.75, 1]) {
        t += m.compress / 4;
        out.push({ at: t, e: { phase: 'compress', variant: v.id, message: 'layer', fraction: f } });
      }
      compressMs = (t - start) * 1000;
    }
    out.push({ at: t, e: { phase: 'load', variant: v.id } });
    t += m.load;
    const evalStart = t;
    for (const c of CELLS) {
      if (skip.has(`${v.id}|${c.perspective}|${c.mode}`)) continue;
      const total = m.items[c.perspective];
      for (let done = 1; done <= total; done++) {
        t += m.perItem;
        out.push({ at: t, e: { phase: 'evaluate', variant: v.id, perspective: c.perspective, mode: c.mode, done, total, reused: 0 } });
      }
    }
    out.push({
      at: t,
      e: { phase: 'variant-done', variant: v.id, timings: { compressMs, loadMs: m.load * 1000, evaluateMs: (t - evalStart) * 1000 } },
    });
  }
  out.push({ at: t, e: { phase: 'done', results: 0 } });
  return out;
}

const SLOW: Machine = { compress: 40, load: 4, perItem: 2, items: { machine_ethics: 60, mmlu: 30 } };
const FAST: Machine = { compress: 1, load: 0.5, perItem: 0.05, items: { machine_ethics: 4, mmlu: 3 } };

describe('the overall progress of a run', () => {
  for (const [name, machine] of [
    ['slower', SLOW],
    ['faster', FAST],
  ] as const) {
    it(`never moves back when this run's rates replace estimates ${name} than the machine`, () => {
      const model = new RunProgressModel();
      model.apply({ phase: 'plan', outline: outline('dense,rtn4,gptq4') }, 0);
      let last = model.view().fraction;
      let steps = 0;
      for (const { at, e } of simulate('dense,rtn4,gptq4', machine)) {
        model.apply(e, at * 1000);
        const { fraction } = model.view();
        expect(fraction).toBeGreaterThanOrEqual(last);
        if (fraction > last) steps++;
        last = fraction;
      }
      expect(last).toBe(1);
      // It advanced along the way, not in one jump at the end.
      expect(steps).toBeGreaterThan(20);
    });
  }

  it('before anything is measured, the ETA is the estimate from the rates it was given', () => {
    const rates: CostRates = { ...DEFAULT_RATES, secondsPerItem: 2, loadSeconds: 10, fromRuns: 3 };
    const model = new RunProgressModel();
    model.apply({ phase: 'plan', outline: outline('dense,rtn4', {}, rates) }, 0);
    const compress = Math.max(3, (DEFAULT_RATES.compressSecondsPerByte.rtn ?? 0) * 1e6);
    expect(model.view().etaSeconds).toBeCloseTo(2 * 10 + compress + 2 * CELLS.length * 25 * 2, 6);
    expect(model.view().fraction).toBe(0);
  });

  it("after the first variants, the ETA comes from this run's measured rates", () => {
    const model = new RunProgressModel();
    const ids = 'dense,rtn4,rtn8';
    const events = simulate(ids, SLOW);
    const end = events.at(-1)!.at;
    model.apply({ phase: 'plan', outline: outline(ids) }, 0);
    let afterDense: number | null = null;
    for (const { at, e } of events) {
      model.apply(e, at * 1000);
      if (e.phase === 'variant-done' && e.variant === 'dense') afterDense = model.view().etaSeconds;
      if (e.phase === 'variant-done' && e.variant === 'rtn4') {
        const eta = model.view().etaSeconds!;
        // The first item of a variant is timed with its loading, so the estimate is off by about one item.
        expect(Math.abs(eta - (end - at))).toBeLessThan(SLOW.perItem * 2);
      }
    }
    // After dense alone compression is still a guess, but the evaluation is priced at the measured rate,
    // far above what the defaults (0.6 s per item, 25 items a cell) would say.
    const defaultsOnly = 2 * (DEFAULT_RATES.loadSeconds + 3 + CELLS.length * 25 * DEFAULT_RATES.secondsPerItem);
    const evaluationLeft = 2 * (SLOW.items.machine_ethics + SLOW.items.mmlu) * SLOW.perItem;
    expect(afterDense).toBeGreaterThan(evaluationLeft);
    expect(afterDense).toBeGreaterThan(defaultsOnly * 4);
    expect(model.view().etaSeconds).toBe(0);
  });

  it('the ETA of a cell under way follows its own rate', () => {
    const model = new RunProgressModel();
    model.apply({ phase: 'plan', outline: outline('dense') }, 0);
    const ev = (done: number): RunEvent => ({
      phase: 'evaluate',
      variant: 'dense',
      perspective: 'machine_ethics',
      mode: 'generate',
      done,
      total: 100,
      reused: 0,
    });
    model.apply({ phase: 'load', variant: 'dense' }, 0);
    model.apply(ev(1), 1000);
    model.apply(ev(11), 31_000); // 3 s per item
    const eta = model.view().etaSeconds!;
    // 89 items of this cell at 3 s, plus mmlu (25 items guessed) at the same measured rate.
    expect(eta).toBeCloseTo(89 * 3 + 25 * 3, 6);
  });

  it('a resumed run starts from the work already done, and the same page keeps its bar', () => {
    const ids = 'dense,rtn4';
    const done = ['dense|machine_ethics|generate', 'dense|mmlu|generate', 'rtn4|machine_ethics|generate'];
    const resumed: RunOutline = outline(ids, { done });
    resumed.variants[0] = { ...resumed.variants[0], finished: true, timings: { loadMs: 4000, evaluateMs: 176_000 } };
    resumed.variants[1] = { ...resumed.variants[1], compressed: true };

    const fresh = new RunProgressModel();
    fresh.apply({ phase: 'plan', outline: resumed }, 0);
    const start = fresh.view();
    expect(start.fraction).toBeGreaterThan(0.5);
    expect(start.fraction).toBeLessThan(1);
    expect(start.finished).toEqual([{ id: 'dense', label: 'Dense', seconds: 180, compressSeconds: null }]);
    expect(start.variants).toEqual({ done: 1, total: 2 });

    // The same run cancelled and resumed in one page: its bar keeps its place.
    const page = new RunProgressModel();
    page.apply({ phase: 'plan', outline: outline(ids) }, 0);
    const first = simulate(ids, SLOW);
    const cut = first.findIndex((x) => x.e.phase === 'evaluate' && x.e.variant === 'rtn4' && x.e.perspective === 'mmlu' && x.e.done === 5);
    for (const { at, e } of first.slice(0, cut)) page.apply(e, at * 1000);
    page.apply({ phase: 'error', message: 'run cancelled' }, first[cut].at * 1000);
    const before = page.view().fraction;
    page.apply({ phase: 'plan', outline: resumed }, 1e9);
    expect(page.view().fraction).toBeGreaterThanOrEqual(before);
    let last = page.view().fraction;
    const second = simulate(ids, SLOW, new Set(done)).filter((x) => !(x.e.phase !== 'done' && 'variant' in x.e && x.e.variant === 'dense'));
    for (const { at, e } of second) {
      page.apply(e, 1e9 + at * 1000);
      expect(page.view().fraction).toBeGreaterThanOrEqual(last);
      last = page.view().fraction;
    }
    expect(last).toBe(1);
  });

  it('a step the outline did not list (a fidelity check) is added to the work left without moving the bar back', () => {
    const model = new RunProgressModel();
    model.apply({ phase: 'plan', outline: outline('dense') }, 0);
    model.apply({ phase: 'load', variant: 'dense' }, 0);
    model.apply(
      { phase: 'evaluate', variant: 'dense', perspective: 'machine_ethics', mode: 'generate', done: 25, total: 25, reused: 0 },
      10_000,
    );
    const before = model.view();
    model.apply({ phase: 'fidelity', variant: 'dense', done: 1, total: 40 }, 11_000);
    const after = model.view();
    expect(after.fraction).toBeGreaterThanOrEqual(before.fraction);
    expect(after.etaSeconds!).toBeGreaterThan(before.etaSeconds!);
    expect(after.current).toMatchObject({ done: 1, total: 40, unit: 'items' });
  });
});
