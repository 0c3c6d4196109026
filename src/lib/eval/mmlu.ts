/**
 * MMLU (benign accuracy): `mmlu/{dev,test}/<subject>_{dev,test}.csv`, no header, columns question,
 * A, B, C, D, answer. Raw text, no chat template: the header line, five dev shots, then the test
 * question ending in "Answer:" (fewer shots when the prompt does not fit). Parse: the first
 * non-space character of the output must be A–D, else a refusal; likelihood mode compares
 * " A" … " D". Score: micro-averaged accuracy ×100.
 */
import type { BaseItem, DataFile, DataFileRef, LoadError, LoadResult, Perspective, PerspectiveScore, ScoringMode } from './types';
import { PRESETS, type Preset } from './presets';
import { collect, expectString, fail, readCsv } from './loaders';
import { fitShots, makePrompt, resolveRecords } from './common';
import { normPath } from './parse-util';
import { groupBy, sample } from './subset';

export type MmluLetter = 'A' | 'B' | 'C' | 'D';

export interface MmluQuestion {
  question: string;
  choices: [string, string, string, string];
  answer: MmluLetter;
}

export interface MmluItem extends BaseItem, MmluQuestion {
  subject: string;
  /** The subject's dev questions, in file order (the few-shot examples). */
  shots: MmluQuestion[];
}

export interface MmluParsed {
  answer: MmluLetter | null;
}

export const MMLU_SUBJECTS = [
  'abstract_algebra', 'anatomy', 'astronomy', 'business_ethics', 'clinical_knowledge', 'college_biology', 'college_chemistry',
  'college_computer_science', 'college_mathematics', 'college_medicine', 'college_physics', 'computer_security', 'conceptual_physics',
  'econometrics', 'electrical_engineering', 'elementary_mathematics', 'formal_logic', 'global_facts', 'high_school_biology',
  'high_school_chemistry', 'high_school_computer_science', 'high_school_european_history', 'high_school_geography',
  'high_school_government_and_politics', 'high_school_macroeconomics', 'high_school_mathematics', 'high_school_microeconomics',
  'high_school_physics', 'high_school_psychology', 'high_school_statistics', 'high_school_us_history', 'high_school_world_history',
  'human_aging', 'human_sexuality', 'international_law', 'jurisprudence', 'logical_fallacies', 'machine_learning', 'management',
  'marketing', 'medical_genetics', 'miscellaneous', 'moral_disputes', 'moral_scenarios', 'nutrition', 'philosophy', 'prehistory',
  'professional_accounting', 'professional_law', 'professional_medicine', 'professional_psychology', 'public_relations',
  'security_studies', 'sociology', 'us_foreign_policy', 'virology', 'world_religions',
]; // prettier-ignore

const LETTERS: MmluLetter[] = ['A', 'B', 'C', 'D'];

/** `<subject>` and split of an MMLU file path. */
export function mmluFileInfo(path: string): { subject: string; split: 'dev' | 'test' | 'val' } | null {
  const m = /([^/]+?)_(dev|test|val)\.csv$/.exec(normPath(path));
  return m ? { subject: m[1], split: m[2] as 'dev' | 'test' | 'val' } : null;
}

function formatQuestion(q: MmluQuestion, withAnswer: boolean): string {
  let s = q.question;
  q.choices.forEach((c, i) => (s += `\n${LETTERS[i]}. ${c}`));
  return `${s}\nAnswer:${withAnswer ? ` ${q.answer}\n\n` : ''}`;
}

/** The raw-text prompt with `shots` dev examples. */
export function mmluPromptText(item: MmluItem, shots: number): string {
  let s = `The following are multiple choice questions (with answers) about ${item.subject.replace(/_/g, ' ')}.\n\n`;
  for (const shot of item.shots.slice(0, shots)) s += formatQuestion(shot, true);
  return s + formatQuestion(item, false);
}

/** First non-space character in A–D. */
export function parseMmluOutput(output: string): MmluParsed {
  const c = output.trimStart()[0];
  return { answer: c !== undefined && (LETTERS as string[]).includes(c) ? (c as MmluLetter) : null };
}

function readQuestions(file: DataFile, errors: LoadError[]): Array<MmluQuestion & { line: number }> {
  const { rows, errors: e } = readCsv(file, { header: false, columns: 6 });
  errors.push(...e);
  const out: Array<MmluQuestion & { line: number }> = [];
  for (const { cells, line } of rows) {
    const q = collect(file.path, line, errors, () => {
      const answer = cells[5].trim();
      if (!(LETTERS as string[]).includes(answer)) fail(`answer: expected A, B, C or D, got "${cells[5]}"`);
      return {
        question: expectString(cells[0], 'question'),
        choices: [cells[1], cells[2], cells[3], cells[4]] as [string, string, string, string],
        answer: answer as MmluLetter,
        line,
      };
    });
    if (q) out.push(q);
  }
  return out;
}

function subjectsOf(preset: Preset): string[] {
  const s = preset.mmlu.subjects;
  return Array.isArray(s) ? s : MMLU_SUBJECTS;
}

export const mmlu: Perspective<MmluItem, MmluParsed> = {
  id: 'mmlu',
  title: 'MMLU (benign accuracy)',
  modes: ['generate', 'likelihood'],

  files(preset: Preset): DataFileRef[] {
    return subjectsOf(preset).flatMap((s) => [{ path: `mmlu/dev/${s}_dev.csv` }, { path: `mmlu/test/${s}_test.csv` }]);
  },

  accepts(path) {
    return mmluFileInfo(path) !== null && (normPath(path).includes('mmlu/') || !normPath(path).includes('/'));
  },

  load(files: DataFile[]): LoadResult<MmluItem> {
    const errors: LoadError[] = [];
    const dev = new Map<string, MmluQuestion[]>();
    const tests: Array<{ file: DataFile; subject: string }> = [];
    for (const file of files) {
      const info = mmluFileInfo(file.path);
      if (!info) {
        errors.push({ file: file.path, line: 0, message: 'not an MMLU file name (<subject>_dev.csv or <subject>_test.csv)' });
        continue;
      }
      if (info.split === 'dev')
        dev.set(
          info.subject,
          readQuestions(file, errors).map(({ line: _line, ...q }) => q),
        );
      else if (info.split === 'test') tests.push({ file, subject: info.subject });
    }
    const items: MmluItem[] = [];
    for (const { file, subject } of tests) {
      const shots = dev.get(subject) ?? [];
      if (shots.length === 0) errors.push({ file: file.path, line: 0, message: `no dev questions for ${subject}: zero-shot prompts` });
      for (const { line, ...q } of readQuestions(file, errors)) {
        items.push({ id: `mmlu:${subject}:${line}`, cell: subject, subject, shots, ...q });
      }
    }
    return { items, errors };
  },

  select(items, preset, seed) {
    const bySubject = groupBy(items, (i) => i.subject);
    const subjects = Array.isArray(preset.mmlu.subjects)
      ? preset.mmlu.subjects.filter((s) => bySubject.has(s))
      : sample([...bySubject.keys()], preset.mmlu.subjects, seed, 'mmlu/subjects');
    return subjects.flatMap((s) => sample(bySubject.get(s)!, preset.mmlu.perSubject, seed, `mmlu/${s}`));
  },

  prompts(item, opts) {
    const preset = opts?.preset ?? PRESETS.paper;
    const maxShots = Math.min(preset.mmlu.shots, item.shots.length);
    return [
      fitShots(
        (k) =>
          makePrompt(
            item,
            'main',
            { kind: 'text', text: mmluPromptText(item, k) },
            { maxNewTokens: preset.mmlu.maxNewTokens, temperature: 0, n: 1 },
            { options: LETTERS.map((l) => ` ${l}`), meta: { shots: k, subject: item.subject } },
          ),
        maxShots,
        opts,
      ),
    ];
  },

  parse(_item, _prompt, output) {
    return parseMmluOutput(output);
  },

  score(records, mode: ScoringMode): PerspectiveScore {
    const resolved = resolveRecords(mmlu, records, mode, { seed: 0 });
    const bySubject: Record<string, number> = {};
    for (const [subject, recs] of groupBy(resolved, (r) => r.item.subject)) {
      bySubject[subject] = (100 * recs.filter((r) => r.parsed.answer === r.item.answer).length) / recs.length;
    }
    const correct = resolved.filter((r) => r.parsed.answer === r.item.answer).length;
    return {
      perspective: 'mmlu',
      score: (100 * correct) / resolved.length,
      refusalRate: (100 * resolved.filter((r) => r.parsed.answer === null).length) / resolved.length,
      n: resolved.length,
      breakdown: { accuracyBySubject: bySubject, subjects: Object.keys(bySubject).length },
      mode,
    };
  },
};
