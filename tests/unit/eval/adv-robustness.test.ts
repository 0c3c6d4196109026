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
});
