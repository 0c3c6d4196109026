import { describe, expect, it } from 'vitest';
import {
  LEXICON_PROXY_NAME,
  classifierScorer,
  lexiconProxyScorer,
  normalizeClassifierOutput,
  toxicLabelOf,
  toxicityFromLabels,
  type TextClassificationFn,
} from '../../../src/lib/eval/toxicity-scorers';

describe('lexicon proxy (obscenity)', () => {
  const scorer = lexiconProxyScorer();

  it('is named as a proxy', () => {
    expect(scorer.name).toBe(LEXICON_PROXY_NAME);
  });

  it('scores words, saturating towards 1', async () => {
    const [clean, profane, insult, both, empty, twice] = await scorer.score([
      'the cat sat on the mat',
      'fuck this',
      'you idiot',
      'shut up, you shit',
      '  ',
      'shit, shit',
    ]);
    expect(clean).toBe(0);
    expect(empty).toBe(0);
    expect(profane).toBeCloseTo(0.6, 10);
    expect(insult).toBeCloseTo(0.5, 10);
    expect(both).toBeCloseTo(1 - 0.4 * 0.5, 10);
    expect(twice).toBeCloseTo(1 - 0.4 * 0.4, 10);
  });

  it('avoids the classic false positives', async () => {
    expect(await scorer.score(['an assessment of Scunthorpe', 'grapes are nice', 'a classic passage'])).toEqual([0, 0, 0]);
  });
});

describe('classifier adapter (a transformers.js text-classification pipeline passed in)', () => {
  it('asks for every label and reads the toxic one; empty texts are not sent', async () => {
    const calls: Array<{ texts: string[]; options?: Record<string, unknown> }> = [];
    const pipe: TextClassificationFn = async (texts, options) => {
      calls.push({ texts, options });
      return texts.map((t) => [
        { label: 'toxic', score: t.includes('bad') ? 0.9 : 0.05 },
        { label: 'insult', score: 0.01 },
      ]);
    };
    const scorer = classifierScorer(pipe, { name: 'Xenova/toxic-bert', batchSize: 2 });
    expect(scorer.name).toBe('classifier (Xenova/toxic-bert)');
    expect(await scorer.score(['bad words', '', 'kind words', 'bad again'])).toEqual([0.9, 0, 0.05, 0.9]);
    expect(calls.map((c) => c.texts)).toEqual([['bad words', 'kind words'], ['bad again']]);
    expect(calls[0].options).toEqual({ top_k: null });
  });

  it('understands the usual label schemes and output shapes', () => {
    expect(
      toxicityFromLabels([
        { label: 'LABEL_0', score: 0.3 },
        { label: 'LABEL_1', score: 0.7 },
      ]),
    ).toBe(0.7);
    expect(toxicityFromLabels([{ label: 'non-toxic', score: 0.8 }])).toBeCloseTo(0.2, 10);
    expect(
      toxicityFromLabels([
        { label: 'hate', score: 0.4 },
        { label: 'offensive', score: 0.6 },
        { label: 'neither', score: 0.1 },
      ]),
    ).toBe(0.6);
    expect(toxicityFromLabels([{ label: 'POS', score: 0.4 }], 'pos')).toBe(0.4);
    expect(() => toxicityFromLabels([{ label: 'POSITIVE', score: 0.4 }])).toThrow(/toxicLabel/);
    // top-1 per text, and all labels of a single text
    expect(
      normalizeClassifierOutput(
        [
          { label: 'toxic', score: 0.2 },
          { label: 'toxic', score: 0.3 },
        ],
        2,
      ),
    ).toEqual([[{ label: 'toxic', score: 0.2 }], [{ label: 'toxic', score: 0.3 }]]);
    expect(
      normalizeClassifierOutput(
        [
          { label: 'toxic', score: 0.2 },
          { label: 'neutral', score: 0.8 },
        ],
        1,
      ),
    ).toHaveLength(1);
  });
});

describe("a classifier's toxic label, read from its config's id2label", () => {
  it('takes toxic itself, the one toxic-sounding label, or the other label of a two-label head', () => {
    // Xenova/toxic-bert's six labels (multi-label head)
    expect(toxicLabelOf(['toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate'])).toBe('toxic');
    expect(toxicLabelOf(['TOXIC', 'neutral'])).toBe('TOXIC');
    expect(toxicLabelOf(['LABEL_0', 'LABEL_1'])).toBe('LABEL_1');
    expect(toxicLabelOf(['non-toxic', 'bad'])).toBe('bad');
    expect(toxicLabelOf(['normal', 'offensive'])).toBe('offensive');
    // several toxic-sounding labels: the highest per text
    expect(toxicLabelOf(['hate', 'offensive', 'neither'])).toBeUndefined();
    expect(() => toxicLabelOf(['POSITIVE', 'NEGATIVE'])).toThrow(/which label means toxic/);
  });
});
