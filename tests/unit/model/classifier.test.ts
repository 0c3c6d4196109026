import { describe, expect, it } from 'vitest';
import { classifierKey, classifierLabels, isClassifierKey } from '../../../src/lib/model/classifier';
import { hubSource } from '../../../src/lib/model/sources';

describe('toxicity classifier files', () => {
  it('reads id2label in index order and names the model in every error', () => {
    expect(classifierLabels(JSON.stringify({ id2label: { 1: 'toxic', 0: 'non-toxic' } }), 'm')).toEqual(['non-toxic', 'toxic']);
    expect(() => classifierLabels('{', 'org/m')).toThrow(/config\.json of org\/m is not valid JSON/);
    expect(() => classifierLabels('{"model_type":"llama"}', 'org/m')).toThrow(/org\/m has no id2label/);
    expect(() => classifierLabels('{"id2label":{"0":"a","2":"b"}}', 'org/m')).toThrow(/id2label must map 0…1/);
  });

  it('keeps classifiers apart from the checkpoints to evaluate', () => {
    const key = classifierKey(hubSource('Xenova/toxic-bert'));
    expect(key).toBe('classifier:hf:Xenova/toxic-bert@main');
    expect(isClassifierKey(key)).toBe(true);
    expect(isClassifierKey('hf:Xenova/toxic-bert@main')).toBe(false);
  });
});
