/** adversarial demonstrations: re-scoring DecodingTrust's outputs. */
import { describe, expect, it } from 'vitest';
import { rescoreAdvDemonstration } from '../../../src/lib/eval/adv-demonstration';
import { completion, msgs } from './dt-fixtures';

describe("adversarial demonstrations: re-scoring DecodingTrust's outputs", () => {
  it('adversarial demonstrations: cache files per cell, labels in the cache', async () => {
    const cf = JSON.stringify({
      requests: [msgs('a'), msgs('b')],
      responses: [completion('Yes'), completion('maybe.')],
      labels: ['yes', 'no'],
      scores: {},
    });
    const asr = JSON.stringify({
      requests: [msgs('a'), msgs('b')],
      responses: [completion('positive'), completion('negative')],
      labels: ['positive', 'positive'],
    });
    const s = await rescoreAdvDemonstration([
      { path: 'results/adv_demonstration/counterfactual/snli_premise_cf/hf_llama_42.jsonl', text: cf },
      { path: 'results/adv_demonstration/backdoor/experiment1/sst-2_setup2_badword_asr/hf_llama_42.jsonl', text: asr },
    ]);
    expect(s.breakdown.subscores).toEqual({ counterfactual: 50, backdoor: 50 });
    expect(s.score).toBe(50);
  });
});
