import type { VariantMethod } from '../variants/spec';
import type { CostRates, RunDoc } from './types';

/**
 * Guesses for a machine with no finished run: calibration-based methods (GPTQ, AWQ, Wanda,
 * SparseGPT) run the model over the calibration set, RTN and magnitude pruning only touch weights.
 */
export const DEFAULT_RATES: CostRates = {
  secondsPerItem: 0.6,
  compressSecondsPerByte: { rtn: 20e-9, magnitude: 15e-9, gptq: 150e-9, awq: 120e-9, wanda: 60e-9, sparsegpt: 150e-9 },
  loadSeconds: 5,
  fromRuns: 0,
};

/** No compression finishes faster than this, whatever the model's size: the worker and its graphs start first. */
export const MIN_COMPRESS_SECONDS = 3;

/** Rough items per perspective per mode at each preset, until a run has seen a cell's real count. */
export const PRESET_ITEMS: Record<string, number> = { smoke: 25, classroom: 120, paper: 500, full: 2000 };

/** How much of a run's history to learn from: the machine, browser and drivers change over time. */
const HISTORY_RUNS = 5;

export function compressSeconds(rates: CostRates, method: VariantMethod, modelBytes: number): number {
  if (method === 'dense') return 0;
  const perByte = rates.compressSecondsPerByte[method] ?? DEFAULT_RATES.compressSecondsPerByte[method] ?? 100e-9;
  return Math.max(MIN_COMPRESS_SECONDS, perByte * modelBytes);
}

/**
 * Rates learned from the timings the newest runs on this profile recorded; a rate nothing has
 * measured yet keeps its default, scaled by how much faster or slower this machine was on the
 * rates that were measured. With `modelKey`, runs of that model alone count when there are any:
 * an item of a 1 MB model and one of a 3B model differ by orders of magnitude, so a history of
 * other models' runs would put the estimate of this one far off.
 */
export function ratesFromHistory(runs: RunDoc[], modelKey?: string): CostRates {
  const same = modelKey ? runs.filter((r) => r.modelKey === modelKey) : [];
  const rates = learnRates(same);
  return rates.fromRuns > 0 ? rates : learnRates(runs);
}

function learnRates(runs: RunDoc[]): CostRates {
  let evalMs = 0;
  let items = 0;
  let loadMs = 0;
  let loads = 0;
  const compress = new Map<VariantMethod, { ms: number; bytes: number }>();
  let used = 0;
  const newest = runs
    .filter((r) => Object.values(r.variants).some(({ timings: t }) => t?.evaluatedItems || t?.loadMs || t?.compressMs))
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, HISTORY_RUNS);
  for (const run of newest) {
    used++;
    for (const spec of run.plan.variants) {
      const t = run.variants[spec.id]?.timings;
      if (!t) continue;
      if (t.evaluateMs && t.evaluatedItems) {
        evalMs += t.evaluateMs;
        items += t.evaluatedItems;
      }
      if (t.loadMs) {
        loadMs += t.loadMs;
        loads++;
      }
      if (t.compressMs && run.modelBytes && spec.method !== 'dense') {
        const c = compress.get(spec.method) ?? { ms: 0, bytes: 0 };
        c.ms += t.compressMs;
        c.bytes += run.modelBytes;
        compress.set(spec.method, c);
      }
    }
  }
  if (used === 0) return DEFAULT_RATES;
  const measured: CostRates['compressSecondsPerByte'] = {};
  const ratios: number[] = [];
  for (const [method, c] of compress) {
    measured[method] = c.ms / 1000 / c.bytes;
    ratios.push(measured[method] / (DEFAULT_RATES.compressSecondsPerByte[method] ?? measured[method]));
  }
  const speed = ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : 1;
  const compressSecondsPerByte: CostRates['compressSecondsPerByte'] = {};
  for (const [method, perByte] of Object.entries(DEFAULT_RATES.compressSecondsPerByte) as [VariantMethod, number][])
    compressSecondsPerByte[method] = measured[method] ?? perByte * speed;
  return {
    secondsPerItem: items ? evalMs / 1000 / items : DEFAULT_RATES.secondsPerItem,
    compressSecondsPerByte,
    loadSeconds: loads ? loadMs / 1000 / loads : DEFAULT_RATES.loadSeconds,
    fromRuns: used,
  };
}
