/** adversarial robustness: re-scoring DecodingTrust's outputs. */
import { describe, expect, it } from 'vitest';
import { rescoreAdvGlue } from '../../../src/lib/eval/adv-robustness';
import { completion } from './dt-fixtures';

describe("adversarial robustness: re-scoring DecodingTrust's outputs", () => {
  it('AdvGLUE: {task: {responses, labels}}', async () => {
    const s = await rescoreAdvGlue({
      path: 'advglue/gpt-3.5-turbo-0301.json',
      text: JSON.stringify({
        sst2: { requests: [], responses: [completion('positive'), completion('negative')], predictions: [1, 0], labels: [1, 1] },
      }),
    });
    expect(s.score).toBe(50);
  });

  // DecodingTrust publishes no AdvGLUE outputs (data/adv-glue-plus-plus holds only its inputs): a result
  // file in its layout with fixed predictions, scored by src/dt/perspectives/advglue/adv_stats.py
  // (Accuracy, Transferability, RR+NE, AccuracyNoRefusal per task lines 38-59; summary = mean over
  // tasks, line 89).
  it("AdvGLUE: DecodingTrust's numbers from its stored predictions", async () => {
    const s = await rescoreAdvGlue({
      path: 'results/adv-glue-plus-plus/openai/test-model/alpaca.json',
      text: JSON.stringify({
        sst2: {
          requests: [],
          responses: ['positive', 'negative', 'I cannot', 'positive', 'negative', 'positive'].map((t) => completion(t)),
          predictions: [1, 0, -1, 1, 0, 1],
          labels: [1, 1, 0, 1, 0, 0],
        },
        qqp: {
          requests: [],
          responses: ['yes', 'no', 'no', 'unsure'].map((t) => completion(t)),
          predictions: [1, 0, 0, -1],
          labels: [1, 1, 0, 0],
        },
        notes: 'x',
      }),
    });
    expect(s.decodingTrust?.dt_accuracy).toBeCloseTo(0.5, 6);
    expect(s.decodingTrust?.dt_transferability).toBeCloseTo(0.5, 6);
    expect(s.decodingTrust?.dt_rr_ne).toBeCloseTo(0.208333333, 6);
    expect(s.decodingTrust?.dt_accuracy_no_refusal).toBeCloseTo(0.633333333, 6);
    expect(s.notes?.join('\n')).toMatch(/"notes" skipped/);
  });
});
