/** Re-scoring this project's own saved records. */
import { describe, expect, it } from 'vitest';
import { rescoreSavedRecords, type SavedRecords } from '../../../src/lib/eval/rescore';
import { PERSPECTIVES, planPerspective } from '../../../src/lib/eval/registry';
import { PRESETS } from '../../../src/lib/eval/presets';
import { OFFLINE_DATA, readTree } from './helpers';

describe("re-scoring this project's saved records", () => {
  it('recomputes parsed answers from the outputs', async () => {
    const files = readTree(OFFLINE_DATA, 'mmlu');
    const plan = planPerspective(PERSPECTIVES.mmlu, files, PRESETS.smoke, 3);
    const records = plan.prompts.map(({ item, prompt }, i) => ({
      item,
      prompt,
      output: i % 2 === 0 ? ` ${item.answer}` : 'Z',
      parsed: { answer: null },
    }));
    const saved: SavedRecords = { format: 'ctlab-eval-records', version: 1, perspective: 'mmlu', mode: 'generate', run: plan.run, records };
    const s = await rescoreSavedRecords(JSON.stringify(saved));
    expect(s.score).toBeCloseTo((100 * Math.ceil(records.length / 2)) / records.length, 10);
    expect(s.run?.seed).toBe(3);
    expect((await rescoreSavedRecords(saved, { keepParsed: true })).score).toBe(0);
  });
});
