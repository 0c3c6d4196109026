import type { LoadedLm } from '../infer/causal-lm';
import { PERSPECTIVE_IDS, getPerspective, getPreset, type PerspectiveId, type ScoringMode } from '../eval';
import { evaluatePerspective, loadPerspectiveFiles, type DataSource, type EvalProgress } from './evaluate';
import type { ResultEntry, ResultsDoc } from './results';

export interface EvalRequest {
  perspectives: PerspectiveId[] | 'all';
  preset: string;
  seed: number;
  /** `both` runs likelihood mode as well, for the perspectives that support it. */
  mode: ScoringMode | 'both';
  data: DataSource;
  variant?: string;
}

export type RunProgress = EvalProgress | { perspective: PerspectiveId; phase: 'loading data' | 'scoring' };

/** Evaluates one model on the requested perspectives; every item's record is in the result. */
export async function runEvaluation(lm: LoadedLm, req: EvalRequest, onProgress?: (p: RunProgress) => void): Promise<ResultsDoc> {
  const preset = getPreset(req.preset);
  const ids = req.perspectives === 'all' ? [...PERSPECTIVE_IDS] : req.perspectives;
  for (const id of ids) getPerspective(id);
  const results: ResultEntry[] = [];
  const modes = new Set<ScoringMode>();
  for (const id of ids) {
    onProgress?.({ perspective: id, phase: 'loading data' });
    const { files, failed } = await loadPerspectiveFiles(req.data, id, preset);
    if (failed.length) throw new Error(`${id}: could not load ${failed.map((f) => `${f.path} (${f.reason})`).join(', ')}`);
    const supported = getPerspective(id).modes;
    const wanted: ScoringMode[] = req.mode === 'both' ? ['generate', 'likelihood'] : [req.mode];
    for (const mode of wanted.filter((m) => supported.includes(m))) {
      modes.add(mode);
      const r = await evaluatePerspective(lm, id, files, { preset, seed: req.seed, mode, onProgress });
      results.push({
        variant: req.variant ?? 'dense',
        perspective: id,
        mode,
        score: r.score.score,
        refusalRate: r.score.refusalRate,
        n: r.score.n,
        ...(r.score.scorer ? { scorer: r.score.scorer } : {}),
        breakdown: r.score.breakdown,
        ...(r.score.notes ? { notes: r.score.notes } : {}),
        run: r.score.run,
        loadErrors: r.loadErrors,
        records: r.saved,
      });
    }
  }
  return {
    format: 'ctlab-results',
    version: 1,
    createdAt: new Date().toISOString(),
    model: { key: lm.key, label: lm.label },
    settings: {
      preset: String(preset.name),
      seed: req.seed,
      modes: [...modes],
      perspectives: ids,
      data: req.data.kind === 'offline' ? 'built-in offline set' : req.data.base,
      device: lm.device,
      adapter: lm.adapter,
    },
    results,
  };
}
