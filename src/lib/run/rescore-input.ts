import {
  EvalError,
  getPerspective,
  isSavedRecords,
  lexiconProxyScorer,
  rescoreSavedRecords,
  type DataFile,
  type PerspectiveId,
  type PerspectiveScore,
  type RescoreContext,
} from '../eval';
import { isResultsDoc } from './results';

const textOf = (f: DataFile): string => (typeof f.text === 'string' ? f.text : new TextDecoder().decode(f.text));

function tryJson(f: DataFile): unknown {
  try {
    return JSON.parse(textOf(f));
  } catch {
    return undefined;
  }
}

/**
 * Scores outputs produced elsewhere: this project's results or records files, or DecodingTrust's
 * outputs for `perspective` (read by that perspective's own `rescore`), with the data files some
 * formats need (labels, choices).
 */
export async function rescoreInputs(
  perspective: PerspectiveId,
  inputs: DataFile[],
  data: DataFile[] = [],
  ctx: RescoreContext = {},
): Promise<PerspectiveScore[]> {
  const p = getPerspective(perspective);
  if (inputs.length === 0) throw new EvalError('no input files were given');
  const scorer = ctx.toxicityScorer ?? lexiconProxyScorer();
  const own: PerspectiveScore[] = [];
  const foreign: DataFile[] = [];
  for (const f of inputs) {
    const doc = f.path.endsWith('.json') ? tryJson(f) : undefined;
    if (isResultsDoc(doc)) {
      const entries = doc.results.filter((r) => r.perspective === perspective);
      if (entries.length === 0)
        throw new EvalError(
          `${f.path} holds no ${perspective} results (it has ${[...new Set(doc.results.map((r) => r.perspective))].join(', ')})`,
        );
      for (const e of entries)
        own.push({ ...(await rescoreSavedRecords(e.records, { toxicityScorer: scorer })), variant: e.variant } as PerspectiveScore);
    } else if (isSavedRecords(doc)) {
      if (doc.perspective !== perspective) throw new EvalError(`${f.path} holds ${doc.perspective} records, not ${perspective}`);
      own.push(await rescoreSavedRecords(doc, { toxicityScorer: scorer }));
    } else foreign.push(f);
  }
  if (foreign.length === 0) return own;
  if (!p.rescore)
    throw new EvalError(
      `${perspective}: DecodingTrust outputs cannot be re-scored for this perspective; give this project's results file instead`,
    );
  return [...own, await p.rescore(foreign, data, { ...ctx, toxicityScorer: scorer })];
}

/** DecodingTrust's data folder of a perspective (`data/<folder>`), for callers that gather data files. */
export function dataFolderOf(perspective: PerspectiveId): string | undefined {
  return getPerspective(perspective).dtFolder;
}
