/**
 * Re-scoring this project's own saved records with the current parsers. DecodingTrust's outputs are
 * re-scored by each perspective's `rescore` (its module), through the shared reader in dt-cache.ts.
 */
import type { EvalRecord, PerspectiveId, PerspectiveScore, RunInfo, ScoringMode, ToxicityScorer } from './types';
import { EvalError, PERSPECTIVE_IDS } from './types';
import { isObject } from './loaders';
import { getPerspective, scorePerspective } from './registry';

/** How this project saves the records of one perspective run (results store, exports, CLI). */
export interface SavedRecords {
  format: 'ctlab-eval-records';
  version: 1;
  perspective: PerspectiveId;
  mode: ScoringMode;
  run?: RunInfo;
  records: EvalRecord[];
}

export function isSavedRecords(v: unknown): v is SavedRecords {
  return (
    isObject(v) &&
    v.format === 'ctlab-eval-records' &&
    (PERSPECTIVE_IDS as readonly unknown[]).includes(v.perspective) &&
    Array.isArray(v.records)
  );
}

/**
 * Re-scores saved records with the current parsers (parsed answers are recomputed from the
 * outputs; toxicity is re-annotated unless its scores are kept).
 */
export async function rescoreSavedRecords(
  saved: SavedRecords | string,
  opts: { toxicityScorer?: ToxicityScorer; keepParsed?: boolean } = {},
): Promise<PerspectiveScore> {
  const doc = typeof saved === 'string' ? (JSON.parse(saved) as unknown) : saved;
  if (!isSavedRecords(doc)) throw new EvalError('not a ctlab-eval-records file');
  const perspective = getPerspective(doc.perspective);
  const records = opts.keepParsed ? doc.records : doc.records.map(({ parsed: _parsed, ...r }) => r);
  return scorePerspective(perspective, records, doc.mode, {
    seed: doc.run?.seed ?? 0,
    ...(doc.run ? { run: doc.run } : {}),
    ...(opts.toxicityScorer ? { toxicityScorer: opts.toxicityScorer } : {}),
  });
}
