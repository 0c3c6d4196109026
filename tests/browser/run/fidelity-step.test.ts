import { describe, expect, it } from 'vitest';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { downloadModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { denseFidelity, denseReference, variantFidelity } from '../../../src/lib/run/fidelity-step';
import { perplexity } from '../../../src/lib/infer/scoring';
import { freshCache, STORIES } from '../helpers';

describe('fidelity on a text of the plan’s own', () => {
  it('scores the given text, and dense against its own reference has no divergence', async () => {
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    const lm = await loadCausalLm(cache, model.key, { device: 'wasm' });
    try {
      const text = 'Tom had a big red ball. He threw it to his sister, and she laughed and threw it back.';
      const progress: [number, number][] = [];
      const ref = await denseReference(lm, { text, label: 'my notes' }, (done, total) => progress.push([done, total]));
      expect(progress).toEqual([
        [0, 1],
        [1, 1],
      ]);
      expect(ref.windows).toEqual([lm.tokenizer.encode(text)]);
      const dense = denseFidelity(ref);
      expect(dense).toMatchObject({ kl: 0, text: 'my notes', topK: 256, tokens: ref.windows[0].length - 1 });
      // The perplexity is the one the scoring code computes on the same tokens.
      expect(dense.ppl).toBeCloseTo((await perplexity(lm, text)).ppl, 6);
      const again = await variantFidelity(lm, ref);
      expect(again.kl).toBeGreaterThanOrEqual(0);
      expect(again.kl).toBeLessThan(1e-9);
      expect(again.ppl).toBeCloseTo(dense.ppl, 9);
    } finally {
      await lm.model.dispose();
    }
  });
});
