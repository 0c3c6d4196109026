import {
  EvalError,
  getPerspective,
  isSavedRecords,
  lexiconProxyScorer,
  rescoreAdvDemonstration,
  rescoreAdvGlue,
  rescoreFairness,
  rescoreMachineEthics,
  rescoreOod,
  rescoreSavedRecords,
  rescoreStereotype,
  rescoreToxicity,
  type DataFile,
  type PerspectiveId,
  type PerspectiveScore,
} from '../eval';
import { isResultsDoc } from './results';

const textOf = (f: DataFile): string => (typeof f.text === 'string' ? f.text : new TextDecoder().decode(f.text));
const bytesOf = (f: DataFile): Uint8Array => (typeof f.text === 'string' ? new TextEncoder().encode(f.text) : f.text);
const baseName = (p: string): string => p.split('/').pop() ?? p;

function tryJson(f: DataFile): unknown {
  try {
    return JSON.parse(textOf(f));
  } catch {
    return undefined;
  }
}

/**
 * Scores outputs produced elsewhere: this project's results or records files, or DecodingTrust's
 * cached generations for `perspective`, with the data files some formats need (labels, choices).
 */
export async function rescoreInputs(perspective: PerspectiveId, inputs: DataFile[], data: DataFile[] = []): Promise<PerspectiveScore[]> {
  getPerspective(perspective);
  if (inputs.length === 0) throw new EvalError('no input files were given');
  const scorer = lexiconProxyScorer();
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
  return [...own, await rescoreDecodingTrust(perspective, foreign, data)];
}

async function rescoreDecodingTrust(perspective: PerspectiveId, inputs: DataFile[], data: DataFile[]): Promise<PerspectiveScore> {
  switch (perspective) {
    case 'fairness':
      return rescoreFairness(
        inputs.map((f) => {
          const setting = fairnessSetting(f.path, data);
          const sensitive = data.find((d) => baseName(d.path) === `sensitive_attr_${setting}.npy`);
          if (!sensitive)
            throw new EvalError(
              `fairness: sensitive_attr_${setting}.npy is needed beside ${f.path}; pass the fairness data folder with --data-dir`,
            );
          const labels = data.find((d) => baseName(d.path) === `gt_labels_${setting}.npy`);
          return { setting, generations: textOf(f), sensitiveAttr: bytesOf(sensitive), ...(labels ? { gtLabels: bytesOf(labels) } : {}) };
        }),
      );
    case 'machine_ethics':
      return rescoreMachineEthics(
        inputs
          .filter((f) => !baseName(f.path).startsWith('label_'))
          .map((f) => {
            const labels = [...inputs, ...data].find((d) => baseName(d.path) === `label_${baseName(f.path)}`);
            return { name: baseName(f.path), generations: textOf(f), ...(labels ? { labels: textOf(labels) } : {}) };
          }),
      );
    case 'ood':
      return rescoreOod(inputs.map(textOf), data);
    case 'adv_demonstration':
      return rescoreAdvDemonstration(inputs, data);
    case 'adv_robustness':
      if (inputs.length !== 1) throw new EvalError('adv_robustness: give one AdvGLUE results file');
      return rescoreAdvGlue(textOf(inputs[0]));
    case 'stereotype':
      return rescoreStereotype(inputs);
    case 'toxicity':
      return rescoreToxicity(inputs, lexiconProxyScorer());
    default:
      throw new EvalError(
        `${perspective}: DecodingTrust outputs cannot be re-scored for this perspective; give this project's results file instead`,
      );
  }
}

/** The fairness setting a cache belongs to: the data setting whose name its file name contains. */
function fairnessSetting(path: string, data: DataFile[]): string {
  const settings = data
    .map((d) => /^sensitive_attr_(.+)\.npy$/.exec(baseName(d.path))?.[1])
    .filter((s): s is string => Boolean(s))
    .sort((a, b) => b.length - a.length);
  const name = baseName(path);
  const hit = settings.find((s) => name.includes(s));
  if (hit) return hit;
  return name.replace(/\.(jsonl?|out)$/g, '');
}
