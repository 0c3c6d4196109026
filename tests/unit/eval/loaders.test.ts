import { describe, expect, it } from 'vitest';
import { PERSPECTIVES } from '../../../src/lib/eval/registry';
import { MAX_JSON_DEPTH, MAX_LOAD_ERRORS, readCsv, readJson, readJsonLines, readNpy } from '../../../src/lib/eval/loaders';
import type { DataFile, PerspectiveId } from '../../../src/lib/eval/types';
import type { AdvGlueItem } from '../../../src/lib/eval/adv-robustness';
import { fairnessLabel, type FairnessItem } from '../../../src/lib/eval/fairness';
import type { OodItem } from '../../../src/lib/eval/ood';
import type { PrivacyItem } from '../../../src/lib/eval/privacy';
import type { MmluItem } from '../../../src/lib/eval/mmlu';
import { injectLine, readTree, SHARED_DATA } from './helpers';

/** Where each perspective's native files live under ../shared/data. */
const DIRS: Record<PerspectiveId, string> = {
  stereotype: 'decodingtrust/stereotype',
  toxicity: 'decodingtrust/toxicity',
  ood: 'decodingtrust/ood',
  fairness: 'decodingtrust/fairness',
  privacy: 'decodingtrust/privacy',
  adv_demonstration: 'decodingtrust/adv_demonstration',
  machine_ethics: 'decodingtrust/machine_ethics',
  adv_robustness: 'advglue',
  mmlu: 'mmlu',
};

const isDoc = (f: DataFile) => /(README\.(md|txt)|LICENSE)$/.test(f.path);
const dataFiles = (id: PerspectiveId) => readTree(SHARED_DATA, DIRS[id]).filter((f) => !isDoc(f));
const countLines = (f: DataFile) => (f.text as string).split('\n').filter((l) => l.trim() !== '').length;

describe('every loader reads every native file of its perspective in ../shared/data', () => {
  for (const id of Object.keys(DIRS) as PerspectiveId[]) {
    it(`${id}`, () => {
      const files = dataFiles(id);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(PERSPECTIVES[id].accepts(f.path), f.path).toBe(true);
      const { items, errors } = PERSPECTIVES[id].load(files);
      expect(errors).toEqual([]);
      expect(items.length).toBeGreaterThan(0);
      expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
    });
  }

  it('stereotype: 1152 statements × 3 system prompts', () => {
    const { items } = PERSPECTIVES.stereotype.load(dataFiles('stereotype'));
    expect(items.length).toBe(1152 * 3);
    expect(new Set(items.map((i) => i.topic)).size).toBe(16);
    expect(new Set(items.map((i) => i.group)).size).toBe(24);
    const targeted = items.find((i) => i.systemType === 'targeted' && i.group === 'Old people')!;
    expect(targeted.systemPrompt).toContain('You particularly hate old people.');
    expect(items.find((i) => i.systemType === 'targeted' && i.group === 'Muslims')!.systemPrompt).toContain('hate Muslims.');
  });

  it('toxicity: every prompt line of every set, under both system prompts', () => {
    const files = dataFiles('toxicity');
    const { items } = PERSPECTIVES.toxicity.load(files);
    const lines = files.reduce((s, f) => s + countLines(f), 0);
    expect(items.length).toBe(lines * 2);
    expect(new Set(items.map((i) => i.set))).toEqual(new Set(['toxic', 'nontoxic', 'toxic-gpt3.5', 'toxic-gpt4']));
  });

  it('adv_robustness: the 738 AdvGLUE dev items', () => {
    const { items } = PERSPECTIVES.adv_robustness.load(dataFiles('adv_robustness'));
    const counts = Object.fromEntries(
      ['sst2', 'qqp', 'mnli', 'mnli-mm', 'qnli', 'rte'].map((t) => [t, (items as AdvGlueItem[]).filter((i) => i.task === t).length]),
    );
    expect(counts).toEqual({ sst2: 148, qqp: 78, mnli: 121, 'mnli-mm': 162, qnli: 148, rte: 81 });
  });

  it('ood: 11 styles × 872 sentences, qa_2020 and qa_2023 with and without "I don\'t know", few-shot cells', () => {
    const items = PERSPECTIVES.ood.load(dataFiles('ood')).items as OodItem[];
    const cells = new Map<string, number>();
    for (const i of items) cells.set(i.cell, (cells.get(i.cell) ?? 0) + 1);
    expect([...cells.keys()].filter((c) => c.startsWith('style/')).length).toBe(11);
    expect(cells.get('style/shake_p0.6')).toBe(872);
    expect(cells.get('knowledge/qa_2020')).toBe(855);
    expect(cells.get('knowledge/qa_2023')).toBe(263);
    expect(cells.get('knowledge/qa_2023_idk')).toBe(263);
    expect(cells.get('style-fewshot/tweet_p0.6/base_2')).toBe(872);
    expect(cells.get('knowledge-fewshot/qa_2020/moral_scenarios_1')).toBe(855);
    const fewShot = items.find((i) => i.cell === 'style-fewshot/tweet_p0.6/base_2')!;
    expect(fewShot.demos).toHaveLength(8);
  });

  it('adv_demonstration: every line of the 24 cells', () => {
    const files = dataFiles('adv_demonstration');
    const { items } = PERSPECTIVES.adv_demonstration.load(files);
    expect(items.length).toBe(files.reduce((s, f) => s + countLines(f), 0));
    expect(new Set(items.map((i) => i.cell)).size).toBe(24);
  });

  it('privacy: every Enron entry of every k-shot file (and zero-shot from one_shot)', () => {
    const items = PERSPECTIVES.privacy.load(dataFiles('privacy')).items as PrivacyItem[];
    const byMode = new Map<string, number>();
    for (const i of items) if (i.kind === 'enron') byMode.set(i.mode, (byMode.get(i.mode) ?? 0) + 1);
    expect(byMode.size).toBe(7);
    for (const n of byMode.values()) expect(n).toBe(3294);
  });

  it('fairness: 8 settings aligned with their .npy arrays', () => {
    const files = dataFiles('fairness');
    const items = PERSPECTIVES.fairness.load(files).items as FairnessItem[];
    expect(new Set(items.map((i) => i.setting)).size).toBe(8);
    expect(items.length).toBe(5 * 200 + 3 * 300);
    // gt_labels .npy agree with the jsonl labels (1 = yes / low).
    const mismatched = items.filter((i) => i.gtLabel === undefined || i.gtLabel !== fairnessLabel(i.dataset, i.label));
    expect(mismatched.length).toBe(0);
    const sens = readNpy(files.find((f) => f.path.endsWith('sensitive_attr_adult_0_200_test_base_rate_0.5.npy'))!);
    expect(sens.dtype).toBe('U6');
    const first = items.find((i) => i.setting === 'adult_0_200_test_base_rate_0.5' && i.index === 0)!;
    expect(first.sensitive).toBe(sens.values[0] === 'Male' ? 1 : 0);
  });

  it('machine_ethics: every row of cm_test.csv (multi-line quoted fields included)', () => {
    const { items } = PERSPECTIVES.machine_ethics.load(dataFiles('machine_ethics'));
    expect(items.length).toBe(3885);
    expect(items.filter((i) => i.isShort).length).toBe(2109);
  });

  it('mmlu: 57 subjects, each test question with its 5 dev shots', () => {
    const items = PERSPECTIVES.mmlu.load(dataFiles('mmlu')).items as MmluItem[];
    expect(new Set(items.map((i) => i.subject)).size).toBe(57);
    expect(items.every((i) => i.shots.length === 5)).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------

function replaceFile(files: DataFile[], suffix: string, edit: (text: string) => string): DataFile[] {
  return files.map((f) => (f.path.endsWith(suffix) ? { ...f, text: edit(f.text as string) } : f));
}

describe('a malformed line is rejected with file and line; the good lines are kept', () => {
  it('JSON Lines (toxicity): not JSON', () => {
    const files = dataFiles('toxicity');
    const before = PERSPECTIVES.toxicity.load(files).items.length;
    const bad = replaceFile(files, '/nontoxic.jsonl', (t) => injectLine(t, 3, '{"prompt": {"text": "unterminated'));
    const { items, errors } = PERSPECTIVES.toxicity.load(bad);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'decodingtrust/toxicity/user_prompts/nontoxic.jsonl', line: 3 });
    expect(items.length).toBe(before);
  });

  it('JSON Lines (adversarial demonstrations): valid JSON of the wrong shape', () => {
    const files = dataFiles('adv_demonstration');
    const before = PERSPECTIVES.adv_demonstration.load(files).items.length;
    const bad = replaceFile(files, 'counterfactual/main_verb_cf/42.jsonl', (t) =>
      injectLine(t, 10, '{"input": "no options here", "label": "yes"}'),
    );
    const { items, errors } = PERSPECTIVES.adv_demonstration.load(bad);
    expect(errors).toEqual([
      {
        file: 'decodingtrust/adv_demonstration/counterfactual/main_verb_cf/42.jsonl',
        line: 10,
        message: expect.stringContaining('option'),
      },
    ]);
    expect(items.length).toBe(before);
  });

  it('JSON Lines (fairness): a bad line keeps the .npy alignment of the lines after it', () => {
    const files = dataFiles('fairness');
    const setting = 'adult_0_200_test_base_rate_0.5';
    const bad = replaceFile(files, `/${setting}.jsonl`, (t) => {
      const lines = t.split('\n');
      lines[4] = '{"input": 42}'; // line 5 keeps its slot in the .npy arrays
      return lines.join('\n');
    });
    const good = (PERSPECTIVES.fairness.load(files).items as FairnessItem[]).filter((i) => i.setting === setting);
    const { items, errors } = PERSPECTIVES.fairness.load(bad);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: `decodingtrust/fairness/fairness_data/${setting}.jsonl`, line: 5 });
    const kept = (items as FairnessItem[]).filter((i) => i.setting === setting);
    expect(kept.length).toBe(good.length - 1);
    const after = kept.find((i) => i.index === 5)!;
    expect(after).toEqual(good.find((i) => i.index === 5));
  });

  it('fairness: a setting without its sensitive-attribute .npy is reported and skipped', () => {
    const files = dataFiles('fairness').filter((f) => !f.path.endsWith('sensitive_attr_crime_0_300_test_base_rate_0.5.npy'));
    const { items, errors } = PERSPECTIVES.fairness.load(files);
    expect(errors).toEqual([
      expect.objectContaining({ file: 'decodingtrust/fairness/fairness_data/crime_0_300_test_base_rate_0.5.jsonl', line: 0 }),
    ]);
    expect(new Set((items as FairnessItem[]).map((i) => i.setting)).size).toBe(7);
  });

  it('CSV with header (machine ethics): a bad label, a short row and an unterminated quote', () => {
    const files = dataFiles('machine_ethics');
    const before = PERSPECTIVES.machine_ethics.load(files).items.length;
    const bad = replaceFile(files, 'cm_test.csv', (t) => {
      let s = injectLine(t, 5, '7,Not a label,True,False');
      s = injectLine(s, 9, 'only two,fields');
      s = injectLine(s, 12, '0,"an opening quote that never closes,True,False');
      return s;
    });
    const { items, errors } = PERSPECTIVES.machine_ethics.load(bad);
    const file = 'decodingtrust/machine_ethics/ethics/commonsense/cm_test.csv';
    expect(errors.map((e) => [e.file, e.line]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      [file, 5],
      [file, 9],
      [file, 12],
    ]);
    expect(errors.find((e) => e.line === 5)!.message).toContain('label');
    expect(errors.find((e) => e.line === 9)!.message).toContain('expected 4 fields');
    expect(items.length).toBe(before);
  });

  it('CSV without header (MMLU): wrong field count and a bad answer letter', () => {
    const files = dataFiles('mmlu');
    const before = PERSPECTIVES.mmlu.load(files).items.length;
    const bad = replaceFile(files, 'test/anatomy_test.csv', (t) => injectLine(injectLine(t, 2, 'q,a,b,c,d'), 4, 'q,a,b,c,d,E'));
    const { items, errors } = PERSPECTIVES.mmlu.load(bad);
    expect(errors.map((e) => [e.file, e.line])).toEqual([
      ['mmlu/test/anatomy_test.csv', 2],
      ['mmlu/test/anatomy_test.csv', 4],
    ]);
    expect(items.length).toBe(before);
  });

  it('CSV (stereotype): a row with too many fields', () => {
    const files = dataFiles('stereotype');
    const bad = replaceFile(files, 'user_prompts.csv', (t) => injectLine(t, 3, 'hiv,Somebody,[target_group] x.,prompt,extra'));
    const { items, errors } = PERSPECTIVES.stereotype.load(bad);
    expect(errors).toEqual([expect.objectContaining({ file: 'decodingtrust/stereotype/dataset/user_prompts.csv', line: 3 })]);
    expect(items.length).toBe(1152 * 3);
  });

  it('pretty-printed JSON (AdvGLUE): a garbage line and a record with an impossible label', () => {
    const files = dataFiles('adv_robustness');
    const text = files[0].text as string;
    const lines = text.split('\n');
    // A line between two records, and the label of a record further down.
    const between = lines.findIndex((l, i) => i > 20 && l.trim() === '},') + 2; // 1-based line after "},"
    let s = injectLine(text, between, '    this is not JSON at all,');
    const labelLine = s.split('\n').findIndex((l, i) => i > 200 && /"label": \d/.test(l)) + 1;
    s = s
      .split('\n')
      .map((l, i) => (i === labelLine - 1 ? l.replace(/"label": \d/, '"label": 7') : l))
      .join('\n');
    const { items, errors } = PERSPECTIVES.adv_robustness.load([{ path: 'advglue/dev.json', text: s }]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ file: 'advglue/dev.json', line: between });
    expect(errors[1].file).toBe('advglue/dev.json');
    expect(errors[1].message).toContain('label 7');
    // The record whose label broke starts a few lines above the label line.
    expect(errors[1].line).toBeGreaterThan(labelLine - 6);
    expect(errors[1].line).toBeLessThanOrEqual(labelLine);
    expect(items.length).toBe(737);
  });

  it('pretty-printed JSON (OOD knowledge): an unterminated string drops its record only', () => {
    const files = dataFiles('ood');
    const before = PERSPECTIVES.ood.load(files).items.length;
    let at = 0;
    const bad = replaceFile(files, 'knowledge.json', (t) => {
      const lines = t.split('\n');
      at = lines.findIndex((l, i) => i > 5000 && l.includes('"question_sentence"'));
      lines[at] = lines[at].replace(/",\s*$/, ''); // the string now runs to the end of the line
      at += 1;
      return lines.join('\n');
    });
    const { items, errors } = PERSPECTIVES.ood.load(bad);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toMatchObject({ file: 'decodingtrust/ood/knowledge.json', line: at });
    // One qa_2020 question lost: 1 standard + 1 idk + 12 few-shot items.
    expect(items.length).toBe(before - 14);
  });

  it('one-line JSON (Enron): an entry of the wrong shape is rejected, the others kept', () => {
    const files = dataFiles('privacy');
    const bad = replaceFile(files, 'enron_data/two_shot.json', (t) =>
      t.replace('{"klarnold@flash.net": [', '{"klarnold@flash.net": 5, "x": ['),
    );
    const { items, errors } = PERSPECTIVES.privacy.load(bad);
    expect(errors.map((e) => [e.file, e.line])).toEqual([
      ['decodingtrust/privacy/enron_data/two_shot.json', 1],
      ['decodingtrust/privacy/enron_data/two_shot.json', 1],
    ]);
    expect((items as PrivacyItem[]).filter((i) => i.kind === 'enron' && i.mode === 'two_shot').length).toBe(3293);
  });
});

describe('readers', () => {
  it('readJson: member lines, lenient trailing commas, recovery from a missing comma', () => {
    const text = '{\n  "a": [\n    1,\n    {"b": 2}\n    {"c": 3},\n    4,\n  ],\n  "d": "x"\n}\n';
    const doc = readJson({ path: 't.json', text });
    expect(doc.errors).toEqual([{ file: 't.json', line: 5, message: expect.stringContaining('expected "," or "]"') }]);
    expect(doc.value).toEqual({ a: [1, { b: 2 }, 4], d: 'x' });
    const root = doc.value as { a: unknown[] };
    expect(doc.memberLine(root, 'd')).toBe(8);
    expect(doc.memberLine(root.a, 2)).toBe(6);
    expect(doc.lineOf(root.a[1] as object)).toBe(4);
  });

  it('readJson: a document that is not JSON at all', () => {
    const doc = readJson({ path: 'x.json', text: 'hello' });
    expect(doc.value).toBeUndefined();
    expect(doc.errors[0]).toMatchObject({ file: 'x.json', line: 1 });
  });

  it('readJsonLines and readCsv count lines from 1 and skip blank lines', () => {
    const j = readJsonLines({ path: 'a.jsonl', text: '{"x":1}\n\n{"x":2}\nnope\n' });
    expect(j.records.map((r) => [r.line, r.ordinal])).toEqual([
      [1, 0],
      [3, 1],
    ]);
    expect(j.errors).toEqual([expect.objectContaining({ line: 4 })]);
    const c = readCsv({ path: 'a.csv', text: 'h1,h2\r\n"multi\nline",2\n\n3,4\n' }, { header: true });
    expect(c.rows).toEqual([
      { cells: ['multi\nline', '2'], line: 2 },
      { cells: ['3', '4'], line: 5 },
    ]);
  });
});

describe('hostile files stay bounded and name the file', () => {
  it('JSON Lines: past the error budget the reader stops and says so', () => {
    const text = Array.from({ length: 200_000 }, (_, i) => (i % 2 ? '{"ok": 1}' : 'not json')).join('\n');
    const { records, errors } = readJsonLines({ path: 'big.jsonl', text });
    expect(errors).toHaveLength(MAX_LOAD_ERRORS + 1);
    expect(errors.at(-1)!.message).toBe(`stopped after ${MAX_LOAD_ERRORS} errors in big.jsonl; the rest of the file is not read`);
    expect(records.length).toBe(MAX_LOAD_ERRORS - 1);
  });

  it('JSON: nesting past the depth limit skips the file without overflowing the stack', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const r = readJson({ path: 'deep.json', text: deep });
    expect(r.value).toBeUndefined();
    expect(r.errors[0].message).toMatch(new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels.*file skipped`));
  });

  it('JSON: every bad member is dropped in one pass, and the budget ends the file with a message', () => {
    const record = (i: number, text: string) => `  {\n    "id": ${i},\n    "text": ${text}\n  }`;
    const items = Array.from({ length: 100 }, (_, i) => record(i, i % 2 ? '"fine"' : '"broken'));
    const mixed = readJson({ path: 'mixed.json', text: `[\n${items.join(',\n')}\n]` });
    const value = mixed.value as Array<{ id: number; text?: string }>;
    expect(value).toHaveLength(100);
    expect(value.filter((v) => v.text === 'fine')).toHaveLength(50);
    expect(mixed.errors).toHaveLength(50);
    expect(mixed.errors[0]).toMatchObject({ file: 'mixed.json', line: 4 });
    const many = Array.from({ length: 500 }, (_, i) => record(i, '"broken'));
    const r = readJson({ path: 'many.json', text: `[\n${many.join(',\n')}\n]` });
    expect(r.value).toBeUndefined();
    expect(r.errors.at(-1)!.message).toBe(`stopped after ${MAX_LOAD_ERRORS} errors in many.json; file skipped`);
  });

  it('CSV: many broken quotes end with a message instead of silently dropping the rest', () => {
    const lines = ['label,input', ...Array.from({ length: 300 }, (_, i) => (i % 2 ? `1,"ok ${i}"` : `0,"bad ${i}" x`))];
    const { rows, errors } = readCsv({ path: 'q.csv', text: lines.join('\n') }, { header: true });
    expect(errors.at(-1)!.message).toMatch(/^stopped after 100 errors in q\.csv/);
    expect(errors.length).toBe(MAX_LOAD_ERRORS + 1);
    expect(rows.length).toBeGreaterThan(90);
  });

  it('.npy: zero-width strings and shapes larger than the data are refused with the file named', () => {
    const file = (descr: string, shape: string, dataBytes: number): Uint8Array => {
      let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
      header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
      const out = new Uint8Array(10 + header.length + dataBytes);
      out.set([0x93, 78, 85, 77, 80, 89, 1, 0, header.length & 0xff, header.length >> 8]);
      out.set(new TextEncoder().encode(header), 10);
      return out;
    };
    expect(() => readNpy({ path: 'sensitive_attr_x.npy', text: file('<U0', '5,', 0) })).toThrow(
      /sensitive_attr_x\.npy: not a readable \.npy file: dtype <U0 has elements of 0 bytes/,
    );
    expect(() => readNpy({ path: 'gt.npy', text: file('<i8', '1000000,', 80) })).toThrow(
      /gt\.npy: .*needs 8000000 bytes but the file holds 80/,
    );
    expect(() => readNpy({ path: 'junk.npy', text: new Uint8Array(20) })).toThrow(/junk\.npy: not a readable \.npy file: no NUMPY magic/);
    expect(readNpy({ path: 'ok.npy', text: file('<i8', '10,', 80) }).values).toHaveLength(10);
  });
});
