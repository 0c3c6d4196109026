/**
 * All perspectives, and the glue a runner (src/lib/run, the eval worker, the CLI) uses:
 *
 *   const p = PERSPECTIVES.fairness;
 *   const files = await fetchDataFiles(base, p.files(preset));          // sources.ts
 *   const plan = planPerspective(p, files.files, preset, seed, { fits }); // load → select → prompts
 *   // for each plan.prompts[i]: generate prompt.decoding.n outputs, or option log-likelihoods
 *   const score = await scorePerspective(p, records, mode, { seed, run: plan.run, toxicityScorer });
 */
import type {
  AnnotateContext,
  BaseItem,
  DataFile,
  EvalPrompt,
  EvalRecord,
  LoadError,
  Perspective,
  PerspectiveId,
  PerspectiveScore,
  PromptOptions,
  RunInfo,
  ScoringMode,
} from './types';
import { EvalError, PERSPECTIVE_IDS } from './types';
import type { Preset } from './presets';
import { stereotype } from './stereotype';
import { privacy } from './privacy';
import { toxicity } from './toxicity';
import { fairness } from './fairness';
import { advRobustness } from './adv-robustness';
import { ood } from './ood';
import { advDemonstration } from './adv-demonstration';
import { machineEthics } from './machine-ethics';
import { mmlu } from './mmlu';
import { countBy } from './common';

// The registry holds perspectives of different item types; callers narrow with the id.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPerspective = Perspective<any, any>;

export const PERSPECTIVES = {
  stereotype,
  privacy,
  toxicity,
  fairness,
  adv_robustness: advRobustness,
  ood,
  adv_demonstration: advDemonstration,
  machine_ethics: machineEthics,
  mmlu,
} as const satisfies Record<PerspectiveId, AnyPerspective>;

export function getPerspective(id: string): AnyPerspective {
  if (!(PERSPECTIVE_IDS as readonly string[]).includes(id))
    throw new EvalError(`unknown perspective "${id}" (known: ${PERSPECTIVE_IDS.join(', ')})`);
  return PERSPECTIVES[id as PerspectiveId];
}

/** Which perspective(s) a user-supplied file belongs to. */
export function perspectivesForFile(path: string): PerspectiveId[] {
  return PERSPECTIVE_IDS.filter((id) => PERSPECTIVES[id].accepts(path));
}

/** Splits user-supplied files by perspective (a file can serve several). */
export function routeFiles(files: readonly DataFile[]): { byPerspective: Partial<Record<PerspectiveId, DataFile[]>>; unknown: DataFile[] } {
  const byPerspective: Partial<Record<PerspectiveId, DataFile[]>> = {};
  const unknown: DataFile[] = [];
  for (const f of files) {
    const ids = perspectivesForFile(f.path);
    if (ids.length === 0) unknown.push(f);
    for (const id of ids) (byPerspective[id] ??= []).push(f);
  }
  return { byPerspective, unknown };
}

export interface PlannedPrompt<Item extends BaseItem = BaseItem> {
  item: Item;
  prompt: EvalPrompt;
}

export interface Plan<Item extends BaseItem = BaseItem> {
  items: Item[];
  prompts: PlannedPrompt<Item>[];
  errors: LoadError[];
  run: RunInfo;
}

/** Summary of what will run (or ran). */
export function describeRun(
  perspective: Pick<AnyPerspective, 'id'>,
  items: readonly BaseItem[],
  prompts: readonly PlannedPrompt[],
  opts: { preset: Preset; seed: number; mode: ScoringMode; files: readonly DataFile[]; scorer?: string },
): RunInfo {
  const decoding = new Map<string, RunInfo['decoding'][number]>();
  for (const { prompt } of prompts) {
    const key = JSON.stringify(prompt.decoding);
    const entry = decoding.get(key);
    if (entry) entry.prompts++;
    else decoding.set(key, { ...prompt.decoding, prompts: 1 });
  }
  return {
    perspective: perspective.id,
    preset: String(opts.preset.name),
    seed: opts.seed,
    mode: opts.mode,
    sizes: countBy(items, (i) => i.cell),
    items: items.length,
    prompts: prompts.length,
    decoding: [...decoding.values()],
    files: opts.files.map((f) => f.path),
    ...(opts.scorer ? { scorer: opts.scorer } : {}),
  };
}

/** load → select → prompts, with the run description. */
export function planPerspective<Item extends BaseItem>(
  perspective: Perspective<Item, unknown>,
  files: readonly DataFile[],
  preset: Preset,
  seed: number,
  opts: { mode?: ScoringMode; fits?: PromptOptions['fits'] } = {},
): Plan<Item> {
  const mode = opts.mode ?? 'generate';
  if (!perspective.modes.includes(mode)) throw new EvalError(`${perspective.id} does not support ${mode} mode`);
  const { items: all, errors } = perspective.load([...files]);
  const items = perspective.select(all, preset, seed);
  const prompts = items.flatMap((item) => perspective.prompts(item, { preset, fits: opts.fits }).map((prompt) => ({ item, prompt })));
  return { items, prompts, errors, run: describeRun(perspective, items, prompts, { preset, seed, mode, files }) };
}

/** parse (+ annotate) + score, with the run description attached. */
export async function scorePerspective<Item extends BaseItem, Parsed>(
  perspective: Perspective<Item, Parsed>,
  records: EvalRecord<Item, Parsed>[],
  mode: ScoringMode,
  ctx: AnnotateContext & { seed?: number; run?: RunInfo } = {},
): Promise<PerspectiveScore> {
  const seed = ctx.seed ?? ctx.run?.seed ?? 0;
  let recs = records;
  if (mode === 'generate') {
    recs = records.map((r) =>
      r.parsed !== undefined || typeof r.output !== 'string'
        ? r
        : { ...r, parsed: perspective.parse(r.item, r.prompt, r.output, { seed }) },
    );
    if (perspective.annotate) recs = await perspective.annotate(recs, ctx);
  }
  const score = perspective.score(recs, mode, { seed });
  return ctx.run ? { ...score, run: { ...ctx.run, mode, ...(score.scorer ? { scorer: score.scorer } : {}) } } : score;
}
