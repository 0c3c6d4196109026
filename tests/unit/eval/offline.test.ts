import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { getPerspective, perspectivesForFile } from '../../../src/lib/eval/registry';
import { PRESETS } from '../../../src/lib/eval/presets';
import { isManifest, manifestFiles, type DataManifest } from '../../../src/lib/eval/sources';
import { PERSPECTIVE_IDS, type DataFile, type PerspectiveId } from '../../../src/lib/eval/types';
import { OFFLINE_DATA, readTree, SHARED_DATA } from './helpers';

const manifest = JSON.parse(readFileSync(join(OFFLINE_DATA, 'manifest.json'), 'utf8')) as DataManifest;
const tree = readTree(OFFLINE_DATA).filter((f) => f.path !== 'manifest.json' && f.path !== 'README.md');
const filesOf = (id: PerspectiveId): DataFile[] => {
  const paths = new Set(manifestFiles(manifest, id).map((r) => r.path));
  return tree.filter((f) => paths.has(f.path));
};

describe('the built-in offline set', () => {
  it('has a manifest listing every file with its size and perspective', () => {
    expect(isManifest(manifest)).toBe(true);
    expect(manifest.files.map((f) => f.path).sort()).toEqual(tree.map((f) => f.path).sort());
    for (const entry of manifest.files) {
      const file = tree.find((f) => f.path === entry.path)!;
      const bytes = typeof file.text === 'string' ? new TextEncoder().encode(file.text).length : file.text.length;
      expect(bytes, entry.path).toBe(entry.bytes);
      expect(perspectivesForFile(entry.path), entry.path).toContain(entry.perspective);
    }
    expect(readFileSync(join(OFFLINE_DATA, 'README.md'), 'utf8')).toMatch(/written by the Compressed Trust Lab project/i);
  });

  it('covers every perspective and MMLU, read by the same loaders without errors', () => {
    for (const id of PERSPECTIVE_IDS) {
      const files = filesOf(id);
      expect(files.length, id).toBeGreaterThan(0);
      const p = getPerspective(id);
      const { items, errors } = p.load(files);
      expect(errors, id).toEqual([]);
      expect(items.length, id).toBeGreaterThan(1);
      const selected = p.select(items, PRESETS.smoke, 1);
      expect(selected.length, id).toBeGreaterThan(0);
      for (const item of selected) expect(p.prompts(item, { preset: PRESETS.smoke }).length).toBeGreaterThan(0);
    }
  });

  it('mirrors the benchmark layout (same loaders, same relative paths where the file exists there)', () => {
    expect(manifest.files.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        'advglue/dev.json',
        'decodingtrust/stereotype/dataset/user_prompts.csv',
        'decodingtrust/ood/knowledge.json',
        'decodingtrust/machine_ethics/ethics/commonsense/cm_test.csv',
        'mmlu/dev/high_school_geography_dev.csv',
        'mmlu/test/high_school_geography_test.csv',
      ]),
    );
  });

  it('copies no sentence from the benchmark files', () => {
    let checked = 0;
    for (const file of tree) {
      if (typeof file.text !== 'string') continue;
      const { copied, fields } = copiedSentences(file);
      checked += fields;
      expect(copied, file.path).toEqual([]);
    }
    expect(checked).toBeGreaterThan(150);
  }, 60_000);

  it('(the check above does catch a copied sentence)', () => {
    const fake: DataFile = {
      path: 'decodingtrust/ood/style.json',
      text: JSON.stringify({ dev: { base: [{ sentence: "It 's a charming and often affecting journey .", label: '1' }] } }),
    };
    expect(copiedSentences(fake).copied).toEqual(["It 's a charming and often affecting journey ."]);
  }, 60_000);
});

const shared = readTree(SHARED_DATA).filter((f) => typeof f.text === 'string');
const haystacks = new Map<string, string>();

/** Benchmark text of the offline file's perspective (its directory under the data root). */
function haystack(path: string): string {
  const dir = path.startsWith('decodingtrust/') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0];
  if (!haystacks.has(dir)) {
    haystacks.set(
      dir,
      shared
        .filter((f) => f.path.startsWith(`${dir}/`))
        .map((f) => normalize(f.text as string))
        .join('\n'),
    );
  }
  return haystacks.get(dir)!;
}

/** Text fields (≥ 4 words) of an offline file, and sentences (≥ 5 words) within them, found in the benchmark files. */
function copiedSentences(file: DataFile): { copied: string[]; fields: number } {
  const hay = haystack(file.path);
  expect(hay.length, file.path).toBeGreaterThan(0);
  const copied: string[] = [];
  let fields = 0;
  for (const text of textFields(file)) {
    if (text.split(/\s+/).filter(Boolean).length < 4) continue; // labels, names, single words
    fields++;
    if (hay.includes(normalize(text))) {
      copied.push(text);
      continue;
    }
    for (const sentence of text.split(/(?<=[.?!])\s+|\n+/)) {
      if (sentence.split(/\s+/).filter(Boolean).length >= 5 && hay.includes(normalize(sentence))) copied.push(sentence);
    }
  }
  return { copied, fields };
}

/** Lowercase, straight quotes, single spaces (and JSON escapes decoded by the caller). */
function normalize(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\s+/g, ' ');
}

/** Every string in a JSON / JSON Lines / CSV file. */
function textFields(file: DataFile): string[] {
  const text = file.text as string;
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        walk(x);
      }
    }
  };
  if (file.path.endsWith('.json')) walk(JSON.parse(text));
  else if (file.path.endsWith('.jsonl'))
    text
      .split('\n')
      .filter(Boolean)
      .forEach((l) => walk(JSON.parse(l)));
  else if (file.path.endsWith('.csv')) walk(Papa.parse<string[]>(text.trim()).data);
  return out;
}
