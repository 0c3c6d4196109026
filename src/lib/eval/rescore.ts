/**
 * Re-scoring outputs produced elsewhere: DecodingTrust's cached generations (its `data/*\/generations`
 * and `results/` folders) and this project's own saved records. A scorer that reproduces the
 * published numbers from those outputs is right (trust-eval-spec.md).
 *
 * The reference files are not in this repository, so the readers are defensive. Assumptions, from
 * DecodingTrust's code (src/dt/perspectives/*):
 * - a cache is a JSON list of `[messages, completion]` pairs (`json.dump(cache)` of
 *   `Chat.do_classification`), or a JSON object `{requests, responses, labels?}` (fairness,
 *   adversarial demonstrations, AdvGLUE per task), or JSON Lines of either; `messages` is the prompt
 *   message list (a request body `{messages, …}` is accepted too);
 * - a completion is an OpenAI chat completion (`choices[i].message.content`; `choices[i].text` and
 *   plain strings are accepted); the first choice is the answer of classification tasks;
 * - OOD result files map task names to `{outputs: [[messages, completion], …]}`, in the order of
 *   style.json / knowledge.json; few-shot task names are `<task>_<demo set>_<run>`;
 * - machine-ethics file names are `few_shot_<k>_test_num_<n>_jailbreak_<j>_evasive_<e>.json`, with
 *   the labels of the open models in `label_<same name>` and those of GPT models in each
 *   completion's `label`;
 * - stereotype generation CSVs have columns model, system_prompt, user_prompt, gen_0 … gen_24,
 *   each generation a (Python repr or JSON) dict `{'agreeability_num': …, 'output': …}`; the file
 *   name or folder says the system prompt type (`benign_hiv.csv`, `targeted/…`).
 * Each perspective then parses the text with this project's parser (not DecodingTrust's stored
 * predictions), so the numbers show what this engine computes from those outputs.
 */
import type { ChatMessage, DataFile, EvalRecord, PerspectiveId, PerspectiveScore, RunInfo, ScoringMode, ToxicityScorer } from './types';
import { EvalError, PERSPECTIVE_IDS } from './types';
import { readCsvObjects, readNpy, isObject } from './loaders';
import { asText, baseName, normPath } from './parse-util';
import { makePrompt } from './common';
import { fairness, type FairnessDataset, type FairnessItem } from './fairness';
import { machineEthics, type EthicsItem, type EthicsLabel } from './machine-ethics';
import { ood, type OodItem } from './ood';
import { advDemonstration, locateAdvDemoFile, type AdvDemoItem } from './adv-demonstration';
import { stereotype, type StereotypeItem } from './stereotype';
import { advRobustness, ANSWER_MAPPING, type AdvGlueItem, type AdvGlueTask } from './adv-robustness';
import { toxicity, toxicitySetName, type ToxicityItem } from './toxicity';
import type { StereotypeSystemType, ToxicitySystemKey } from './presets';
import { getPerspective, scorePerspective } from './registry';

/** One cached generation: the prompt messages and the completion's texts. */
export interface CachedGeneration {
  messages: ChatMessage[];
  outputs: string[];
  /** A label stored with the completion (DecodingTrust stores it for GPT models in machine ethics). */
  label?: unknown;
}

function asMessages(v: unknown): ChatMessage[] {
  const list = isObject(v) && Array.isArray(v.messages) ? v.messages : v;
  if (typeof list === 'string') return [{ role: 'user', content: list }];
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((m) => ({
    role: (['system', 'user', 'assistant'].includes(String(m.role)) ? m.role : 'user') as ChatMessage['role'],
    content: String(m.content ?? ''),
  }));
}

/** Every choice's text of a completion. */
export function completionTexts(c: unknown): string[] {
  if (typeof c === 'string') return [c];
  if (!isObject(c)) return [];
  if (Array.isArray(c.choices)) {
    return c.choices.map((ch) => {
      if (!isObject(ch)) return String(ch ?? '');
      if (isObject(ch.message)) return String(ch.message.content ?? '');
      return String(ch.text ?? '');
    });
  }
  if (typeof c.continuation === 'string') return [c.continuation];
  if (typeof c.content === 'string') return [c.content];
  return [];
}

function fromPair(v: unknown): CachedGeneration | null {
  if (Array.isArray(v) && v.length >= 2) {
    const completion = v[1];
    return {
      messages: asMessages(v[0]),
      outputs: completionTexts(completion),
      ...(isObject(completion) && 'label' in completion ? { label: completion.label } : {}),
    };
  }
  if (isObject(v)) {
    // DecodingTrust generation lines: {continuation, prompt, response, message}
    const outputs = v.response !== undefined ? completionTexts(v.response) : completionTexts(v);
    if (outputs.length === 0) return null;
    return { messages: asMessages(v.message ?? v.messages ?? v.prompt ?? []), outputs };
  }
  return null;
}

/** Reads any of the cache layouts above into generations (in file order). */
export function parseCachedGenerations(text: string): { generations: CachedGeneration[]; labels?: unknown[] } {
  const t = asText(text).trim();
  let doc: unknown;
  try {
    doc = JSON.parse(t);
  } catch {
    // JSON Lines
    const lines = t.split('\n').filter((l) => l.trim() !== '');
    const generations: CachedGeneration[] = [];
    lines.forEach((l, i) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch (e) {
        throw new EvalError(`cached generations: line ${i + 1} is not JSON (${(e as Error).message})`);
      }
      if (isObject(v) && Array.isArray(v.responses)) generations.push(...parseCachedGenerations(l).generations);
      else {
        const g = fromPair(v);
        if (g) generations.push(g);
      }
    });
    return { generations };
  }
  if (Array.isArray(doc)) return { generations: doc.map(fromPair).filter((g): g is CachedGeneration => g !== null) };
  if (isObject(doc) && Array.isArray(doc.responses)) {
    const requests = Array.isArray(doc.requests) ? doc.requests : [];
    const generations = doc.responses.map((r, i) => ({ messages: asMessages(requests[i] ?? []), outputs: completionTexts(r) }));
    return { generations, ...(Array.isArray(doc.labels) ? { labels: doc.labels } : {}) };
  }
  // A one-line JSON Lines file.
  const single = fromPair(doc);
  if (single) return { generations: [single] };
  throw new EvalError('cached generations: expected a list of [messages, completion] pairs or {requests, responses}');
}

function lastUser(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].role === 'user') return messages[i].content;
  return '';
}

function record<I extends { id: string }>(
  item: I,
  messages: ChatMessage[],
  output: string,
  sample = 0,
): EvalRecord<I & { cell: string }, never> {
  const prompt = makePrompt(item as I & { cell: string }, 'main', { kind: 'chat', messages }, { maxNewTokens: 0, temperature: 0, n: 1 });
  return { item: item as I & { cell: string }, prompt, output, sample };
}

// ---------------------------------------------------------------------------------------------
// Fairness

export interface FairnessCache {
  /** Setting name (the prompt file's stem), e.g. adult_0_200_test_base_rate_0.5. */
  setting: string;
  /** The cache / out file (`{requests, responses, labels}` or pairs). */
  generations: string;
  /** sensitive_attr_<setting>.npy */
  sensitiveAttr: Uint8Array;
  /** gt_labels_<setting>.npy, used when the cache holds no labels. */
  gtLabels?: Uint8Array;
  dataset?: FairnessDataset;
}

export function rescoreFairness(settings: readonly FairnessCache[], seed = 0): PerspectiveScore {
  const records: EvalRecord<FairnessItem>[] = [];
  for (const s of settings) {
    const { generations, labels } = parseCachedGenerations(s.generations);
    const sensitive = readNpy({ path: `sensitive_attr_${s.setting}.npy`, text: s.sensitiveAttr }).values;
    const gt = s.gtLabels ? readNpy({ path: `gt_labels_${s.setting}.npy`, text: s.gtLabels }).values : undefined;
    const dataset: FairnessDataset =
      s.dataset ??
      (s.setting.startsWith('crime') || generations.some((g) => /crime rate/i.test(JSON.stringify(g.messages))) ? 'crime' : 'adult');
    generations.forEach((g, i) => {
      if (i >= sensitive.length) return;
      const label =
        typeof labels?.[i] === 'string'
          ? (labels[i] as string)
          : gt
            ? Number(gt[i]) === 1
              ? dataset === 'adult'
                ? 'yes'
                : 'low'
              : dataset === 'adult'
                ? 'no'
                : 'high'
            : undefined;
      if (label === undefined)
        throw new EvalError(
          `fairness ${s.setting}: no label for generation ${i} (the cache has no labels and no gt_labels .npy was given)`,
        );
      const item: FairnessItem = {
        id: `fairness:${s.setting}:${i}`,
        cell: s.setting,
        setting: s.setting,
        dataset,
        index: i,
        input: lastUser(g.messages),
        label,
        options: dataset === 'adult' ? ['yes', 'no'] : ['high', 'low'],
        examples: [],
        sensitive: sensitive[i] === 'Male' || sensitive[i] === 1 ? 1 : 0,
      };
      records.push(record(item, g.messages, g.outputs[0] ?? ''));
    });
  }
  return fairness.score(records as EvalRecord<FairnessItem, never>[], 'generate', { seed });
}

// ---------------------------------------------------------------------------------------------
// Machine ethics

export function ethicsSettingFromFileName(name: string): { setting: EthicsItem['setting']; variant?: number } {
  const m = /few_shot_(\d+)_test_num_\d+_jailbreak_(\d+)_evasive_(\d+)/.exec(baseName(name));
  if (!m)
    throw new EvalError(
      `machine ethics: cannot tell the setting from "${name}" (expected few_shot_<k>_test_num_<n>_jailbreak_<j>_evasive_<e>.json)`,
    );
  const [k, j, e] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (j > 0) return { setting: 'jailbreak', variant: j };
  if (e > 0) return { setting: 'evasive', variant: e };
  return { setting: k > 0 ? 'few-shot' : 'zero-shot' };
}

export interface EthicsCache {
  /** The cache file name (carries the setting). */
  name: string;
  generations: string;
  /** `label_<name>`: JSON list of "wrong" / "not wrong" (open models). */
  labels?: string;
}

export function rescoreMachineEthics(files: readonly EthicsCache[]): PerspectiveScore {
  const records: EvalRecord<EthicsItem>[] = [];
  for (const f of files) {
    const { setting, variant } = ethicsSettingFromFileName(f.name);
    const { generations } = parseCachedGenerations(f.generations);
    const labels: unknown[] = f.labels ? (JSON.parse(f.labels) as unknown[]) : [];
    generations.forEach((g, i) => {
      const raw = labels[i] ?? g.label ?? (setting === 'jailbreak' || setting === 'evasive' ? 'wrong' : undefined);
      const l = String(raw ?? '').toLowerCase();
      if (l !== 'wrong' && l !== 'not wrong')
        throw new EvalError(`machine ethics ${f.name}: no label for generation ${i}; pass the label_ file`);
      const cell = variant ? `${setting}-${variant}` : setting;
      const item: EthicsItem = {
        id: `machine_ethics:${baseName(f.name)}:${i}`,
        cell,
        setting,
        ...(variant ? { variant } : {}),
        sentence: lastUser(g.messages),
        label: l as EthicsLabel,
        isShort: true,
        demos: [],
      };
      records.push(record(item, g.messages, g.outputs[0] ?? ''));
    });
  }
  return machineEthics.score(records as EvalRecord<EthicsItem, never>[], 'generate');
}

// ---------------------------------------------------------------------------------------------
// OOD

const FEWSHOT_TASK =
  /^(.+?)_((?:base|global_facts|machine_learning|moral_scenarios|us_foreign_policy|2021_qa|shake_p0\.6|bible_p0\.6|romantic_p0\.6|tweet_p0\.6)_\d+)$/;

/**
 * @param results OOD result files (`{task: {outputs: [...]}}`), one or more
 * @param data style.json / knowledge.json, to know labels and choices
 */
export function rescoreOod(results: readonly string[], data: readonly DataFile[]): PerspectiveScore {
  const { items } = ood.load([...data]);
  const byCell = new Map<string, OodItem[]>();
  for (const i of items) {
    const list = byCell.get(i.cell);
    if (list) list.push(i);
    else byCell.set(i.cell, [i]);
  }
  const records: EvalRecord<OodItem>[] = [];
  const notes: string[] = [];
  for (const text of results) {
    const doc = JSON.parse(asText(text)) as unknown;
    if (!isObject(doc)) throw new EvalError('OOD results: expected an object of tasks');
    for (const [task, entry] of Object.entries(doc)) {
      if (!isObject(entry) || !Array.isArray(entry.outputs)) continue;
      const gens = entry.outputs.map(fromPair).filter((g): g is CachedGeneration => g !== null);
      const idk = gens.some((g) => g.messages.some((m) => m.content.includes("4 : I don't know")));
      const few = FEWSHOT_TASK.exec(task);
      const candidates = few
        ? [`style-fewshot/${few[1]}/${few[2]}`, `knowledge-fewshot/${few[1]}/${few[2]}`]
        : [`style/${task}`, `knowledge/${task}${idk ? '_idk' : ''}`, `knowledge/${task.replace(/_idk$/, '')}_idk`];
      const cell = candidates.find((c) => byCell.has(c));
      if (!cell) {
        notes.push(`task ${task}: no matching data in the given files, skipped`);
        continue;
      }
      const cellItems = byCell.get(cell)!;
      if (cellItems.length !== gens.length)
        notes.push(`task ${task}: ${gens.length} outputs for ${cellItems.length} items; paired in order`);
      for (let i = 0; i < Math.min(cellItems.length, gens.length); i++)
        records.push(record(cellItems[i], gens[i].messages, gens[i].outputs[0] ?? ''));
    }
  }
  const score = ood.score(records as EvalRecord<OodItem, never>[], 'generate');
  return notes.length ? { ...score, notes: [...(score.notes ?? []), ...notes] } : score;
}

// ---------------------------------------------------------------------------------------------
// Adversarial demonstrations

/**
 * @param caches DecodingTrust result files at `…/counterfactual/<task>/<model>_<seed>.jsonl`,
 *   `…/backdoor/experiment1/<cell>/<model>_<seed>.jsonl`, `…/spurious/<h>/<bias>/<model>_<seed>.jsonl`
 * @param data the matching data files, for options and labels (optional when the caches hold labels)
 */
export function rescoreAdvDemonstration(caches: readonly DataFile[], data: readonly DataFile[] = []): PerspectiveScore {
  const { items } = advDemonstration.load(data.filter((f) => advDemonstration.accepts(f.path)));
  const optionsByCell = new Map(items.map((i) => [i.cell, i.options]));
  const dataByCell = new Map<string, AdvDemoItem[]>();
  for (const i of items) dataByCell.set(i.cell, [...(dataByCell.get(i.cell) ?? []), i]);
  const records: EvalRecord<AdvDemoItem>[] = [];
  for (const f of caches) {
    const loc = locateAdvDemoFile(f.path);
    if (!loc) throw new EvalError(`adversarial demonstrations: cannot tell the cell of ${f.path}`);
    const cell = `${loc.group}/${loc.name}`;
    const { generations, labels } = parseCachedGenerations(asText(f.text));
    const options =
      optionsByCell.get(cell) ??
      (loc.group === 'backdoor' ? ['negative', 'positive'] : loc.name.startsWith('snli') ? ['yes', 'maybe', 'no'] : ['yes', 'no']);
    generations.forEach((g, i) => {
      const label = typeof labels?.[i] === 'string' ? (labels[i] as string).toLowerCase() : dataByCell.get(cell)?.[i]?.label;
      if (label === undefined) throw new EvalError(`adversarial demonstrations ${f.path}: no label for generation ${i}`);
      const item: AdvDemoItem = {
        id: `adv_demonstration:${cell}:${baseName(f.path)}:${i}`,
        cell,
        group: loc.group,
        name: loc.name,
        task: '',
        input: lastUser(g.messages),
        label,
        options,
        examples: [],
      };
      records.push(record(item, g.messages, g.outputs[0] ?? ''));
    });
  }
  return advDemonstration.score(records as EvalRecord<AdvDemoItem, never>[], 'generate');
}

// ---------------------------------------------------------------------------------------------
// AdvGLUE

/** DecodingTrust advglue out file: `{task: {requests, responses, predictions, labels}}`. */
export function rescoreAdvGlue(text: string): PerspectiveScore {
  const doc = JSON.parse(asText(text)) as unknown;
  if (!isObject(doc)) throw new EvalError('AdvGLUE results: expected an object of tasks');
  const records: EvalRecord<AdvGlueItem>[] = [];
  for (const [task, entry] of Object.entries(doc)) {
    if (!(task in ANSWER_MAPPING) || !isObject(entry) || !Array.isArray(entry.responses) || !Array.isArray(entry.labels)) continue;
    const labels = entry.labels;
    entry.responses.forEach((r, i) => {
      const item: AdvGlueItem = {
        id: `adv_robustness:rescored:${task}:${i}`,
        cell: task,
        source: 'advglue',
        task: task as AdvGlueTask,
        label: Number(labels[i]),
        fields: [],
      };
      records.push(record(item, [], completionTexts(r)[0] ?? ''));
    });
  }
  return advRobustness.score(records as EvalRecord<AdvGlueItem, never>[], 'generate');
}

// ---------------------------------------------------------------------------------------------
// Stereotype

/** A Python literal (dict / list / tuple / str / number / True / False / None), as pandas writes dicts into CSV cells. */
export function parsePythonLiteral(src: string): unknown {
  let i = 0;
  const s = src;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const err = (m: string): never => {
    throw new EvalError(`Python literal: ${m} at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (s[i] === '}') {
          i++;
          return o;
        }
        const k = value();
        ws();
        if (s[i] !== ':') err('expected ":"');
        i++;
        o[String(k)] = value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== '}') err('expected "," or "}"');
      }
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const a: unknown[] = [];
      for (;;) {
        ws();
        if (s[i] === close) {
          i++;
          return a;
        }
        a.push(value());
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== close) err(`expected "," or "${close}"`);
      }
    }
    if (c === "'" || c === '"') {
      const q = c;
      i++;
      let out = '';
      while (i < s.length && s[i] !== q) {
        if (s[i] === '\\') {
          const e = s[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
          if (e in simple) {
            out += simple[e];
            i += 2;
          } else if (e === 'x' || e === 'u' || e === 'U') {
            const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            out += String.fromCodePoint(parseInt(s.slice(i + 2, i + 2 + len), 16));
            i += 2 + len;
          } else {
            out += '\\';
            i++;
          }
        } else out += s[i++];
      }
      if (s[i] !== q) err('unterminated string');
      i++;
      return out;
    }
    const m = /^(True|False|None|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(s.slice(i));
    if (!m) return err('unexpected character');
    i += m[0].length;
    return m[0] === 'True' ? true : m[0] === 'False' ? false : m[0] === 'None' ? null : Number(m[0]);
  };
  const v = value();
  ws();
  if (i < s.length) err('trailing content');
  return v;
}

function stereotypeTypeOf(path: string, systemPrompt: string): StereotypeSystemType {
  const p = normPath(path).toLowerCase();
  for (const t of ['untargeted', 'targeted', 'benign'] as const) if (baseName(p).startsWith(`${t}_`) || p.includes(`/${t}/`)) return t;
  if (/particularly hate/i.test(systemPrompt)) return 'targeted';
  if (/do not need to obey|toxic, rude/i.test(systemPrompt)) return 'untargeted';
  return 'benign';
}

/** Output text of one generation cell (a dict repr with `output`, JSON, or plain text). */
function generationText(cell: string): string {
  const c = cell.trim();
  if (c.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(c);
    } catch {
      try {
        v = parsePythonLiteral(c);
      } catch {
        v = undefined;
      }
    }
    if (isObject(v) && typeof v.output === 'string') return v.output;
  }
  return cell;
}

export function rescoreStereotype(files: readonly DataFile[]): PerspectiveScore {
  const records: EvalRecord<StereotypeItem>[] = [];
  for (const f of files) {
    const { rows, errors } = readCsvObjects(f, ['system_prompt', 'user_prompt']);
    if (errors.length && rows.length === 0) throw new EvalError(`stereotype ${f.path}: ${errors[0].message} (line ${errors[0].line})`);
    const topic = baseName(f.path)
      .replace(/\.csv$/, '')
      .replace(/^(benign|untargeted|targeted)_/, '');
    for (const { row, line } of rows) {
      const systemType = stereotypeTypeOf(f.path, row.system_prompt);
      const statement = row.user_prompt.split(/statement:\s*/i).pop() ?? '';
      const item: StereotypeItem = {
        id: `stereotype:${baseName(f.path)}:${line}`,
        cell: systemType,
        topic,
        group: '',
        template: '',
        userPrompt: row.user_prompt,
        statement,
        systemType,
        systemPrompt: row.system_prompt,
      };
      const gens = Object.keys(row)
        .filter((k) => /^gen_\d+$/.test(k) && row[k] !== undefined && row[k] !== '')
        .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
      gens.forEach((k, sample) => {
        const messages: ChatMessage[] = [
          { role: 'system', content: row.system_prompt },
          { role: 'user', content: row.user_prompt },
        ];
        records.push(record(item, messages, generationText(row[k]), sample));
      });
    }
  }
  return stereotype.score(records as EvalRecord<StereotypeItem, never>[], 'generate');
}

// ---------------------------------------------------------------------------------------------
// Toxicity

/** DecodingTrust generation files `<set>-template-<0|1>-generations.jsonl` (one line per prompt, n choices). */
export async function rescoreToxicity(files: readonly DataFile[], scorer?: ToxicityScorer): Promise<PerspectiveScore> {
  const records: EvalRecord<ToxicityItem>[] = [];
  for (const f of files) {
    const name = baseName(f.path);
    const m = /^(.*?)-template-(\d+)/.exec(name);
    const set = m ? m[1] : toxicitySetName(f.path);
    const system: ToxicitySystemKey = m && m[2] !== '0' ? 'adversarial' : 'benign';
    const { generations } = parseCachedGenerations(asText(f.text));
    generations.forEach((g, i) => {
      const item: ToxicityItem = { id: `toxicity:${name}:${i}`, cell: `${set}/${system}`, set, text: lastUser(g.messages), system };
      g.outputs.forEach((out, sample) => records.push(record(item, g.messages, out, sample)));
    });
  }
  return scorePerspective(toxicity, records as EvalRecord<ToxicityItem, never>[], 'generate', scorer ? { toxicityScorer: scorer } : {});
}

// ---------------------------------------------------------------------------------------------
// This project's records

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
