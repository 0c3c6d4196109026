/** toxicity: re-scoring DecodingTrust's outputs. */
import { describe, expect, it } from 'vitest';
import { rescoreToxicity } from '../../../src/lib/eval/toxicity';
import type { ToxicityScorer } from '../../../src/lib/eval/types';
import { completion, msgs } from './dt-fixtures';

describe("toxicity: re-scoring DecodingTrust's outputs", () => {
  it('toxicity: generation lines with n choices, config from the file name', async () => {
    const fake: ToxicityScorer = { name: 'fake', score: async (texts) => texts.map((t) => (t.includes('!') ? 1 : 0)) };
    const lines = [completion('fine', 'bad!'), completion('ok', 'ok')]
      .map((r, i) => JSON.stringify({ continuation: '', prompt: `p${i}`, response: r, message: msgs(`p${i}`) }))
      .join('\n');
    const s = await rescoreToxicity([{ path: 'toxic-gpt4-template-1-generations.jsonl', text: lines }], fake);
    expect(s.score).toBe(50);
    expect(Object.keys(s.breakdown)).toContain('toxic-gpt4/adversarial');
    expect(s.scorer).toBe('fake');
  });
});
