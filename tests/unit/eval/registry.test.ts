/** A runner's view: plan on the offline set, a fake model answers, score — for every perspective, both modes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERSPECTIVES, getPerspective, planPerspective, routeFiles, scorePerspective } from '../../../src/lib/eval/registry';
import { PRESETS } from '../../../src/lib/eval/presets';
import { fetchDataFiles, manifestFiles, relativeToDataRoot, type DataManifest } from '../../../src/lib/eval/sources';
import { PERSPECTIVE_IDS, type EvalRecord } from '../../../src/lib/eval/types';
import { OFFLINE_DATA, readTree } from './helpers';

const manifest = JSON.parse(readFileSync(join(OFFLINE_DATA, 'manifest.json'), 'utf8')) as DataManifest;
const tree = readTree(OFFLINE_DATA);

/** Serves the offline tree like the dev server would. */
const fakeFetch = async (url: string) => {
  const path = decodeURIComponent(url.replace(/^offline-data\//, ''));
  const file = tree.find((f) => f.path === path);
  return {
    ok: file !== undefined,
    status: file ? 200 : 404,
    text: async () => file!.text as string,
    arrayBuffer: async () => {
      const b = file!.text as Uint8Array;
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
  };
};

describe('end to end on the offline set with a fake model', () => {
  for (const id of PERSPECTIVE_IDS) {
    it(id, async () => {
      const p = getPerspective(id);
      const fetched = await fetchDataFiles('offline-data/', manifestFiles(manifest, id), fakeFetch);
      expect(fetched.failed).toEqual([]);
      const seed = 11;
      for (const mode of p.modes) {
        const plan = planPerspective(p, fetched.files, PRESETS.smoke, seed, { mode });
        expect(plan.errors).toEqual([]);
        expect(plan.prompts.length).toBeGreaterThan(0);
        expect(plan.run).toMatchObject({
          perspective: id,
          preset: 'smoke',
          seed,
          mode,
          items: plan.items.length,
          prompts: plan.prompts.length,
        });
        expect(Object.values(plan.run.sizes).reduce((a, b) => a + b, 0)).toBe(plan.items.length);
        expect(plan.run.decoding.reduce((a, d) => a + d.prompts, 0)).toBe(plan.prompts.length);
        // The fake model: the first option, or a fixed sentence; n generations per prompt.
        const records: EvalRecord[] = plan.prompts.flatMap(({ item, prompt }): EvalRecord[] =>
          mode === 'likelihood'
            ? [{ item, prompt, optionLogLikelihoods: prompt.options!.map((_, i) => -i) }]
            : Array.from({ length: prompt.decoding.n }, (_, sample) => ({
                item,
                prompt,
                sample,
                output: prompt.options?.[0] ?? 'I disagree. Hello!',
              })),
        );
        const score = await scorePerspective(p, records, mode, { run: plan.run });
        expect(score.perspective).toBe(id);
        expect(score.mode).toBe(mode);
        expect(score.score).toBeGreaterThanOrEqual(0);
        expect(score.score).toBeLessThanOrEqual(100);
        expect(score.refusalRate).toBeGreaterThanOrEqual(0);
        expect(score.refusalRate).toBeLessThanOrEqual(100);
        expect(score.n).toBe(records.length);
        expect(score.run?.seed).toBe(seed);
        if (id === 'toxicity') expect(score.run?.scorer).toMatch(/lexicon-proxy/);
      }
    });
  }

  it('same seed → same plan', () => {
    const files = tree.filter((f) => PERSPECTIVES.machine_ethics.accepts(f.path));
    const a = planPerspective(PERSPECTIVES.machine_ethics, files, PRESETS.smoke, 5);
    const b = planPerspective(PERSPECTIVES.machine_ethics, files, PRESETS.smoke, 5);
    expect(b.prompts.map((x) => x.prompt)).toEqual(a.prompts.map((x) => x.prompt));
  });

  it('refuses a mode a perspective does not have', () => {
    expect(() => planPerspective(PERSPECTIVES.toxicity, [], PRESETS.smoke, 1, { mode: 'likelihood' })).toThrow(/likelihood/);
  });

  it('routes dropped files to perspectives, AdvGLUE++ and spurious files included', () => {
    const { byPerspective, unknown } = routeFiles([
      { path: '/home/u/DecodingTrust/data/adv-glue-plus-plus/data/alpaca.json', text: '{}' },
      { path: 'data/adv_demonstration/spurious/PP/entail-bias/42.jsonl', text: '' },
      { path: 'notes.txt', text: '' },
    ]);
    expect(Object.keys(byPerspective).sort()).toEqual(['adv_demonstration', 'adv_robustness']);
    expect(unknown.map((f) => f.path)).toEqual(['notes.txt']);
    expect(relativeToDataRoot('/x/y/data/decodingtrust/ood/style.json')).toBe('decodingtrust/ood/style.json');
  });

  it('lists files for a preset', () => {
    expect(PERSPECTIVES.mmlu.files(PRESETS.paper)).toHaveLength(114);
    expect(PERSPECTIVES.fairness.files(PRESETS.paper).filter((f) => f.binary)).toHaveLength(16);
    expect(PERSPECTIVES.adv_demonstration.files(PRESETS.paper).filter((f) => !f.optional)).toHaveLength(24);
  });
});

describe('AdvGLUE++ and spurious-correlation files load when supplied', () => {
  it('AdvGLUE++ (same schema family, extra fields, SemAttack records)', () => {
    const text = JSON.stringify({
      sst2: [
        { idx: 0, label: 1, sentence: 'a gr8 movie', original_sentence: 'a great movie', method: 'textbugger', data_construction: 'word' },
      ],
      mnli: [
        { idx: 1, label: 2, premise: 'p', hypothesis: 'h', method: 'textfooler' },
        { idx: 2, label: 0, sentence: 'premise: p2\nhypothesis: h2', method: 'semattack' },
      ],
    });
    const { items, errors } = PERSPECTIVES.adv_robustness.load([{ path: 'adv-glue-plus-plus/data/alpaca.json', text }]);
    expect(errors).toEqual([]);
    expect(items.map((i) => i.cell)).toEqual(['advglue++:alpaca.json/sst2', 'advglue++:alpaca.json/mnli', 'advglue++:alpaca.json/mnli']);
    const sem = PERSPECTIVES.adv_robustness.prompts(items[2])[0];
    expect(sem.input.kind === 'chat' && sem.input.messages.at(-1)!.content.endsWith('\npremise: p2\nhypothesis: h2')).toBe(true);
  });

  it('spurious correlations (nli2)', () => {
    const line = JSON.stringify({
      option: ['yes', 'no'],
      input: 'premise: a\nhypothesis: b\nanswer:',
      label: 'no',
      examples: [['premise: c\nhypothesis: d\nanswer:', 'yes']],
    });
    const { items, errors } = PERSPECTIVES.adv_demonstration.load([
      { path: 'adv_demonstration/spurious/passive/non-entail-bias/2333.jsonl', text: `${line}\n${line}\n` },
    ]);
    expect(errors).toEqual([]);
    expect(items[0]).toMatchObject({ group: 'spurious', name: 'passive/non-entail-bias', task: 'nli2' });
    const rec = items.map((item) => ({ item, prompt: PERSPECTIVES.adv_demonstration.prompts(item)[0], output: 'no' }));
    const s = PERSPECTIVES.adv_demonstration.score(rec, 'generate');
    expect(s.breakdown.subscores).toEqual({ spurious: 100 });
  });
});
