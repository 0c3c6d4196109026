/**
 * Run sizes. `paper` follows the subset paragraph of trust-eval-spec.md (binomial standard error ≈ 5
 * points at 100 items); `smoke` keeps ≈ 5 items per cell so a tiny model finishes in under a minute;
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
  /** Classification tasks: greedy, short budget (spec: 16–20 new tokens). */
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

export const PRESETS: Record<PresetName, Preset> = {
  smoke: {
    name: 'smoke',
    description: '≈5 items per cell: checks the pipeline end to end on a tiny model in under a minute. Numbers are noise.',
    classification: { maxNewTokens: 16 },
    stereotype: { topics: 5, groups: 1, templatesPerCell: 1, systemTypes: ['benign', 'untargeted', 'targeted'], n: 1, maxNewTokens: 48 },
    toxicity: { perSet: 5, sets: 'all', systemPrompts: ['benign', 'adversarial'], n: 1, maxNewTokens: 48 },
    adv_robustness: { perTask: 5 },
    ood: {
      perStyle: 5,
      styles: ['base', 'shake_w', 'augment', 'tweet_p0', 'bible_p0.6'],
      knowledgePerTask: 5,
      knowledge: ['standard', 'idk'],
      includeInDistribution: false,
      fewShot: false,
      fewShotPerCell: 5,
    },
    adv_demonstration: { perCell: 5 },
    privacy: {
      enronPerMode: 5,
      enronModes: ['zero_shot', 'one_shot'],
      enronTemplates: ['a'],
      piiPerCell: 5,
      piiTypes: ['phone number', 'email address', 'password'],
      piiModes: ['0shotattack', '3shotprotect', '3shotattack'],
      understandingTopics: 2,
      understandingN: 1,
      temperature: 1,
      maxNewTokens: 32,
    },
    fairness: { perSetting: 5 },
    machine_ethics: { zeroShot: 5, fewShot: 5, fewShotK: 2, perJailbreak: 5, perEvasive: 5, jailbreaks: [1, 2], evasives: [1, 2] },
    mmlu: { subjects: 5, perSubject: 5, shots: 5, maxNewTokens: 8 },
  },
  classroom: {
    name: 'classroom',
    description: 'A few minutes on a small model: enough items to see large effects of compression.',
    classification: { maxNewTokens: 16 },
    stereotype: { topics: 16, groups: 4, templatesPerCell: 1, systemTypes: ['benign', 'untargeted', 'targeted'], n: 3, maxNewTokens: 100 },
    toxicity: { perSet: 20, sets: 'all', systemPrompts: ['benign', 'adversarial'], n: 3, maxNewTokens: 100 },
    adv_robustness: { perTask: 30 },
    ood: {
      perStyle: 20,
      styles: 'all',
      knowledgePerTask: 50,
      knowledge: ['standard', 'idk'],
      includeInDistribution: false,
      fewShot: false,
      fewShotPerCell: 20,
    },
    adv_demonstration: { perCell: 20 },
    privacy: {
      enronPerMode: 20,
      enronModes: ['zero_shot', 'one_shot', 'five_shot', 'five_shot_non_domain'],
      enronTemplates: ['a'],
      piiPerCell: 8,
      piiTypes: [...PII_TYPES],
      piiModes: ['0shotattack', '3shotprotect', '3shotattack'],
      understandingTopics: 'all',
      understandingN: 1,
      temperature: 1,
      maxNewTokens: 32,
    },
    fairness: { perSetting: 40 },
    machine_ethics: {
      zeroShot: 80,
      fewShot: 40,
      fewShotK: 8,
      perJailbreak: 15,
      perEvasive: 15,
      jailbreaks: [1, 2, 3, 4, 5],
      evasives: [1, 2, 3, 4, 5],
    },
    mmlu: { subjects: 'all', perSubject: 3, shots: 5, maxNewTokens: 8 },
  },
  paper: {
    name: 'paper',
    description: 'The subset sizes of trust-eval-spec.md for a 0.1–1B model in the browser.',
    classification: { maxNewTokens: 20 },
    stereotype: { topics: 16, groups: 8, templatesPerCell: 1, systemTypes: ['benign', 'untargeted', 'targeted'], n: 5, maxNewTokens: 150 },
    toxicity: { perSet: 50, sets: 'all', systemPrompts: ['benign', 'adversarial'], n: 5, maxNewTokens: 150 },
    adv_robustness: { perTask: 'all' },
    ood: {
      perStyle: 50,
      styles: 'all',
      knowledgePerTask: 'all',
      knowledge: ['standard', 'idk'],
      includeInDistribution: false,
      fewShot: false,
      fewShotPerCell: 50,
    },
    adv_demonstration: { perCell: 50 },
    privacy: {
      enronPerMode: 50,
      enronModes: ENRON_ALL,
      enronTemplates: ['a'],
      piiPerCell: 20,
      piiTypes: [...PII_TYPES],
      piiModes: ['0shotattack', '3shotprotect', '3shotattack'],
      understandingTopics: 'all',
      understandingN: 1,
      temperature: 1,
      maxNewTokens: 32,
    },
    fairness: { perSetting: 100 },
    machine_ethics: {
      zeroShot: 200,
      fewShot: 200,
      fewShotK: 32,
      perJailbreak: 40,
      perEvasive: 40,
      jailbreaks: [1, 2, 3, 4, 5],
      evasives: [1, 2, 3, 4, 5],
    },
    mmlu: { subjects: 'all', perSubject: 10, shots: 5, maxNewTokens: 8 },
  },
  full: {
    name: 'full',
    description: 'Everything the files hold, DecodingTrust generation counts (n = 25). Hours to days in a browser.',
    classification: { maxNewTokens: 20 },
    stereotype: {
      topics: 'all',
      groups: 'all',
      templatesPerCell: 'all',
      systemTypes: ['benign', 'untargeted', 'targeted'],
      n: 25,
      maxNewTokens: 150,
    },
    toxicity: { perSet: 'all', sets: 'all', systemPrompts: ['benign', 'adversarial'], n: 25, maxNewTokens: 150 },
    adv_robustness: { perTask: 'all' },
    ood: {
      perStyle: 'all',
      styles: 'all',
      knowledgePerTask: 'all',
      knowledge: ['standard', 'idk'],
      includeInDistribution: true,
      fewShot: true,
      fewShotPerCell: 'all',
    },
    adv_demonstration: { perCell: 'all' },
    privacy: {
      enronPerMode: 'all',
      enronModes: ENRON_ALL,
      enronTemplates: ['a', 'b', 'c', 'd'],
      piiPerCell: 100,
      piiTypes: [...PII_TYPES],
      piiModes: ['0shotattack', '3shotprotect', '3shotattack'],
      understandingTopics: 'all',
      understandingN: 5,
      temperature: 1,
      maxNewTokens: 32,
    },
    fairness: { perSetting: 'all' },
    machine_ethics: {
      zeroShot: 'all',
      fewShot: 'all',
      fewShotK: 32,
      perJailbreak: 'all',
      perEvasive: 'all',
      jailbreaks: [1, 2, 3, 4, 5],
      evasives: [1, 2, 3, 4, 5],
    },
    mmlu: { subjects: 'all', perSubject: 'all', shots: 5, maxNewTokens: 8 },
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
