/**
 * Run sizes. `paper` takes subsets of DecodingTrust's files sized for a binomial standard error ≈ 5
 * points at 100 items; `smoke` keeps ≈ 5 items per cell so a tiny model finishes in under a minute;
 * `classroom` sits between; `full` takes every item the files hold (and DecodingTrust's own n).
 *
 * A count is a number or `'all'`. Counts are upper bounds: a cell with fewer items gives what it has.
 */

export type Count = number | 'all';
export type PresetName = 'smoke' | 'classroom' | 'paper' | 'full';

export type StereotypeSystemType = 'benign' | 'untargeted' | 'targeted';
export type ToxicitySystemKey = 'benign' | 'adversarial';
export type OodKnowledgeVariant = 'standard' | 'idk';
export type PiiMode = '0shotattack' | '3shotprotect' | '3shotattack';
/** DecodingTrust's Enron templates: a "the email address of X is", b "name: X, email:", c "X [mailto:", d "-----Original Message-----". */
export type EnronTemplate = 'a' | 'b' | 'c' | 'd';

export interface Preset {
  name: PresetName | (string & {});
  description: string;
  /** Classification tasks: greedy, short budget (16–20 new tokens). */
  classification: { maxNewTokens: number };
  stereotype: {
    topics: Count;
    groups: Count;
    /** Statements per (topic, group) cell (the CSV has 3 templates per cell). */
    templatesPerCell: Count;
    systemTypes: StereotypeSystemType[];
    n: number;
    maxNewTokens: number;
  };
  toxicity: {
    perSet: Count;
    /** Prompt sets by name (toxic, nontoxic, toxic-gpt3.5, toxic-gpt4); `all` = every set supplied. */
    sets: string[] | 'all';
    systemPrompts: ToxicitySystemKey[];
    n: number;
    maxNewTokens: number;
  };
  adv_robustness: { perTask: Count };
  ood: {
    perStyle: Count;
    /** `all` = every style in style.json; the OOD score uses every style except `base`. */
    styles: string[] | 'all';
    knowledgePerTask: Count;
    knowledge: OodKnowledgeVariant[];
    /** qa_2020 (in distribution) is reported, not scored. */
    includeInDistribution: boolean;
    fewShot: boolean;
    fewShotPerCell: Count;
  };
  adv_demonstration: { perCell: Count };
  privacy: {
    enronPerMode: Count;
    /** Enron files by stem (one_shot, five_shot_non_domain, …) plus `zero_shot` (names only). */
    enronModes: string[];
    enronTemplates: EnronTemplate[];
    piiPerCell: Count;
    piiTypes: string[];
    piiModes: PiiMode[];
    understandingTopics: Count;
    /** Generations per understanding prompt (17 phrasings per topic). */
    understandingN: number;
    temperature: number;
    maxNewTokens: number;
  };
  fairness: { perSetting: Count };
  machine_ethics: {
    zeroShot: Count;
    fewShot: Count;
    /** Demonstrations per few-shot prompt (DecodingTrust: 32). */
    fewShotK: number;
    perJailbreak: Count;
    perEvasive: Count;
    jailbreaks: number[];
    evasives: number[];
  };
  mmlu: { subjects: Count | string[]; perSubject: Count; shots: number; maxNewTokens: number };
}

/** The 12 PII types DecodingTrust aggregates over. */
export const PII_TYPES = [
  'phone number',
  'ssn',
  'social security number',
  'email address',
  'address',
  'password',
  'credit card number',
  'passport number',
  'ssh private key',
  'secret key',
  'canary number',
  'canary code',
] as const;

const ENRON_ALL = ['zero_shot', 'one_shot', 'two_shot', 'five_shot', 'one_shot_non_domain', 'two_shot_non_domain', 'five_shot_non_domain'];

/*
 * Per-perspective builders: the sizes that change between presets are arguments, the settings that
 * every preset shares are written once. Keys keep the order of `Preset` (results and JSON output
 * show them in that order).
 */
type Sizes<T, Fixed extends keyof T> = Omit<T, Fixed>;

function stereotype(s: Sizes<Preset['stereotype'], 'systemTypes'>): Preset['stereotype'] {
  const { topics, groups, templatesPerCell, n, maxNewTokens } = s;
  return { topics, groups, templatesPerCell, systemTypes: ['benign', 'untargeted', 'targeted'], n, maxNewTokens };
}

function toxicity(s: Sizes<Preset['toxicity'], 'sets' | 'systemPrompts'>): Preset['toxicity'] {
  return { perSet: s.perSet, sets: 'all', systemPrompts: ['benign', 'adversarial'], n: s.n, maxNewTokens: s.maxNewTokens };
}

/** `extended`: also the in-distribution split and the few-shot scenarios (only `full`). */
function ood(s: Sizes<Preset['ood'], 'knowledge' | 'includeInDistribution' | 'fewShot'> & { extended: boolean }): Preset['ood'] {
  return {
    perStyle: s.perStyle,
    styles: s.styles,
    knowledgePerTask: s.knowledgePerTask,
    knowledge: ['standard', 'idk'],
    includeInDistribution: s.extended,
    fewShot: s.extended,
    fewShotPerCell: s.fewShotPerCell,
  };
}

function privacy(
  s: Sizes<Preset['privacy'], 'piiTypes' | 'piiModes' | 'understandingTopics' | 'temperature' | 'maxNewTokens'> &
    Partial<Pick<Preset['privacy'], 'piiTypes' | 'understandingTopics'>>,
): Preset['privacy'] {
  return {
    enronPerMode: s.enronPerMode,
    enronModes: s.enronModes,
    enronTemplates: s.enronTemplates,
    piiPerCell: s.piiPerCell,
    piiTypes: s.piiTypes ?? [...PII_TYPES],
    piiModes: ['0shotattack', '3shotprotect', '3shotattack'],
    understandingTopics: s.understandingTopics ?? 'all',
    understandingN: s.understandingN,
    temperature: 1,
    maxNewTokens: 32,
  };
}

/** `perCase`: items per jailbreak prompt and per evasive sentence; `cases`: which of them (1–5). */
function machineEthics(
  s: Pick<Preset['machine_ethics'], 'zeroShot' | 'fewShot' | 'fewShotK'> & { perCase: Count; cases?: number[] },
): Preset['machine_ethics'] {
  const cases = s.cases ?? [1, 2, 3, 4, 5];
  return {
    zeroShot: s.zeroShot,
    fewShot: s.fewShot,
    fewShotK: s.fewShotK,
    perJailbreak: s.perCase,
    perEvasive: s.perCase,
    jailbreaks: [...cases],
    evasives: [...cases],
  };
}

function mmlu(subjects: Preset['mmlu']['subjects'], perSubject: Count): Preset['mmlu'] {
  return { subjects, perSubject, shots: 5, maxNewTokens: 8 };
}

export const PRESETS: Record<PresetName, Preset> = {
  smoke: {
    name: 'smoke',
    description: '≈5 items per cell: checks the pipeline end to end on a tiny model in under a minute. Numbers are noise.',
    classification: { maxNewTokens: 16 },
    stereotype: stereotype({ topics: 5, groups: 1, templatesPerCell: 1, n: 1, maxNewTokens: 48 }),
    toxicity: toxicity({ perSet: 5, n: 1, maxNewTokens: 48 }),
    adv_robustness: { perTask: 5 },
    ood: ood({
      perStyle: 5,
      styles: ['base', 'shake_w', 'augment', 'tweet_p0', 'bible_p0.6'],
      knowledgePerTask: 5,
      extended: false,
      fewShotPerCell: 5,
    }),
    adv_demonstration: { perCell: 5 },
    privacy: privacy({
      enronPerMode: 5,
      enronModes: ['zero_shot', 'one_shot'],
      enronTemplates: ['a'],
      piiPerCell: 5,
      piiTypes: ['phone number', 'email address', 'password'],
      understandingTopics: 2,
      understandingN: 1,
    }),
    fairness: { perSetting: 5 },
    machine_ethics: machineEthics({ zeroShot: 5, fewShot: 5, fewShotK: 2, perCase: 5, cases: [1, 2] }),
    mmlu: mmlu(5, 5),
  },
  classroom: {
    name: 'classroom',
    description: 'A few minutes on a small model: enough items to see large effects of compression.',
    classification: { maxNewTokens: 16 },
    stereotype: stereotype({ topics: 16, groups: 4, templatesPerCell: 1, n: 3, maxNewTokens: 100 }),
    toxicity: toxicity({ perSet: 20, n: 3, maxNewTokens: 100 }),
    adv_robustness: { perTask: 30 },
    ood: ood({ perStyle: 20, styles: 'all', knowledgePerTask: 50, extended: false, fewShotPerCell: 20 }),
    adv_demonstration: { perCell: 20 },
    privacy: privacy({
      enronPerMode: 20,
      enronModes: ['zero_shot', 'one_shot', 'five_shot', 'five_shot_non_domain'],
      enronTemplates: ['a'],
      piiPerCell: 8,
      understandingN: 1,
    }),
    fairness: { perSetting: 40 },
    machine_ethics: machineEthics({ zeroShot: 80, fewShot: 40, fewShotK: 8, perCase: 15 }),
    mmlu: mmlu('all', 3),
  },
  paper: {
    name: 'paper',
    description: 'Subsets of DecodingTrust sized for a 0.1–1B model in the browser (about 5 points standard error at 100 items).',
    classification: { maxNewTokens: 20 },
    stereotype: stereotype({ topics: 16, groups: 8, templatesPerCell: 1, n: 5, maxNewTokens: 150 }),
    toxicity: toxicity({ perSet: 50, n: 5, maxNewTokens: 150 }),
    adv_robustness: { perTask: 'all' },
    ood: ood({ perStyle: 50, styles: 'all', knowledgePerTask: 'all', extended: false, fewShotPerCell: 50 }),
    adv_demonstration: { perCell: 50 },
    privacy: privacy({ enronPerMode: 50, enronModes: ENRON_ALL, enronTemplates: ['a'], piiPerCell: 20, understandingN: 1 }),
    fairness: { perSetting: 100 },
    machine_ethics: machineEthics({ zeroShot: 200, fewShot: 200, fewShotK: 32, perCase: 40 }),
    mmlu: mmlu('all', 10),
  },
  full: {
    name: 'full',
    description: 'Everything the files hold, DecodingTrust generation counts (n = 25). Hours to days in a browser.',
    classification: { maxNewTokens: 20 },
    stereotype: stereotype({ topics: 'all', groups: 'all', templatesPerCell: 'all', n: 25, maxNewTokens: 150 }),
    toxicity: toxicity({ perSet: 'all', n: 25, maxNewTokens: 150 }),
    adv_robustness: { perTask: 'all' },
    ood: ood({ perStyle: 'all', styles: 'all', knowledgePerTask: 'all', extended: true, fewShotPerCell: 'all' }),
    adv_demonstration: { perCell: 'all' },
    privacy: privacy({
      enronPerMode: 'all',
      enronModes: ENRON_ALL,
      enronTemplates: ['a', 'b', 'c', 'd'],
      piiPerCell: 100,
      understandingN: 5,
    }),
    fairness: { perSetting: 'all' },
    machine_ethics: machineEthics({ zeroShot: 'all', fewShot: 'all', fewShotK: 32, perCase: 'all' }),
    mmlu: mmlu('all', 'all'),
  },
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function getPreset(name: string): Preset {
  if (!Object.hasOwn(PRESETS, name)) throw new Error(`unknown preset "${name}" (known: ${PRESET_NAMES.join(', ')})`);
  return PRESETS[name as PresetName];
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A preset with some sizes changed (arrays replace, objects merge); the name says it was customised. */
export function customPreset(base: Preset, overrides: DeepPartial<Preset>, name = `${base.name}+custom`): Preset {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === undefined) return a;
    if (typeof a === 'object' && a !== null && !Array.isArray(a) && typeof b === 'object' && b !== null && !Array.isArray(b)) {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
      return out;
    }
    return b;
  };
  return { ...(merge(base, overrides) as Preset), name };
}

/** `'all'` → everything, otherwise at most `count`. */
export function resolveCount(count: Count, available: number): number {
  return count === 'all' ? available : Math.max(0, Math.min(Math.floor(count), available));
}
