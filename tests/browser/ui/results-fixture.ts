import type { EvalRecord } from '../../../src/lib/eval';
import type { ResultEntry } from '../../../src/lib/run/results';

/** A machine-ethics entry (generate mode) of a hand-made results file, holding the given records. */
export function ethicsEntry(variant: string, records: EvalRecord[], score: number, refusalRate = 0): ResultEntry {
  return {
    variant,
    perspective: 'machine_ethics',
    mode: 'generate',
    score,
    refusalRate,
    n: records.length,
    breakdown: {},
    run: undefined,
    loadErrors: [],
    records: { format: 'ctlab-eval-records', version: 1, perspective: 'machine_ethics', mode: 'generate', records },
  };
}
