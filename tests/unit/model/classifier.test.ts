import { describe, expect, it } from 'vitest';
import { discoverLocalClassifiers } from '../../../src/lib/app/model-library';
import { classifierInputOf, classifierKey, classifierLabels, isClassifierConfig, isClassifierKey } from '../../../src/lib/model/classifier';
import { defaultForm, formToPlan } from '../../../src/lib/run/planner';
import { hubSource, urlSource } from '../../../src/lib/model/sources';

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

  it('names a cached classifier again as a person would type it', () => {
    expect(classifierInputOf(classifierKey(hubSource('Xenova/toxic-bert')))).toBe('Xenova/toxic-bert');
    expect(classifierInputOf(classifierKey(hubSource('org/tox', 'v2')))).toBe('org/tox@v2');
    expect(classifierInputOf(classifierKey(urlSource('http://127.0.0.1:5173/models/tox')))).toBe('http://127.0.0.1:5173/models/tox');
    expect(classifierInputOf('hf:HuggingFaceTB/SmolLM2-135M@main')).toBeUndefined();
  });
});

describe('the toxicity scorer in a plan', () => {
  const cached = { kind: 'cached', key: 'hf:a/b@main' } as const;
  const data = { kind: 'offline', base: '' } as const;

  it('is the lexicon proxy by default, else the typed hub id or URL', () => {
    expect(formToPlan(defaultForm(), cached, data).toxicityModel).toBeUndefined();
    expect(formToPlan({ ...defaultForm(), toxicityModel: ' Xenova/toxic-bert ' }, cached, data).toxicityModel).toEqual(
      hubSource('Xenova/toxic-bert'),
    );
    expect(formToPlan({ ...defaultForm(), toxicityModel: 'http://127.0.0.1:5173/models/tox' }, cached, data).toxicityModel).toEqual(
      urlSource('http://127.0.0.1:5173/models/tox'),
    );
    expect(() => formToPlan({ ...defaultForm(), toxicityModel: 'not an id' }, cached, data)).toThrow(/not a Hugging Face model id/);
  });

  it('offers local folders holding a sequence classifier, not language models', async () => {
    expect(isClassifierConfig({ architectures: ['DistilBertForSequenceClassification'], id2label: { 0: 'toxic' } })).toBe(true);
    expect(isClassifierConfig({ architectures: ['LlamaForCausalLM'], id2label: { 0: 'LABEL_0' } })).toBe(false);
    const files: Record<string, unknown> = {
      '/models/index.json': {
        models: [
          { name: 'tox', files: [{ name: 'config.json' }, { name: 'tokenizer.json' }] },
          { name: 'lm', files: [{ name: 'config.json' }, { name: 'tokenizer.json' }, { name: 'model.safetensors' }] },
        ],
      },
      '/models/tox/config.json': { architectures: ['BertForSequenceClassification'], id2label: { 0: 'toxic' } },
      '/models/lm/config.json': { architectures: ['LlamaForCausalLM'] },
    };
    const fakeFetch = (async (url: string) => {
      const body = files[new URL(url).pathname];
      return new Response(body === undefined ? null : JSON.stringify(body), { status: body === undefined ? 404 : 200 });
    }) as typeof fetch;
    const found = await discoverLocalClassifiers('http://127.0.0.1:5173', fakeFetch);
    expect(found.map((c) => [c.label, c.source])).toEqual([['tox', urlSource('http://127.0.0.1:5173/models/tox', 'tox')]]);
  });
});
