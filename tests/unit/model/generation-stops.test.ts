import { describe, expect, it } from 'vitest';
import { parseModelSpec, withGenerationStops } from '../../../src/lib/model/config';
import { ModelConfigError } from '../../../src/lib/model/config-fields';
import { storiesConfig } from './helpers';

const spec = () => parseModelSpec(storiesConfig());

describe('stop ids from generation_config.json', () => {
  it("adds the generation config's ids after config.json's, once each", () => {
    expect(spec().eosTokenIds).toEqual([2]);
    expect(withGenerationStops(spec(), '{"eos_token_id": [2, 106]}').eosTokenIds).toEqual([2, 106]);
    expect(withGenerationStops(spec(), '{"eos_token_id": 7, "top_k": 64}').eosTokenIds).toEqual([2, 7]);
    expect(withGenerationStops(spec(), '{"eos_token_id": [9, 2, 9]}').eosTokenIds).toEqual([2, 9]);
  });

  it('leaves the spec as it is when the file names no ids', () => {
    const s = spec();
    expect(withGenerationStops(s, '{"do_sample": false}')).toBe(s);
    expect(withGenerationStops(s, '{"eos_token_id": null}')).toBe(s);
    expect(withGenerationStops(s, '{"eos_token_id": 2}')).toBe(s);
  });

  it('refuses malformed files by name', () => {
    const where = 'generation_config.json of org/model';
    expect(() => withGenerationStops(spec(), '{"eos_token_id": [1, "x"]}', where)).toThrow(
      'generation_config.json of org/model: field "eos_token_id" must be a token id or a list of them (got [1,"x"])',
    );
    expect(() => withGenerationStops(spec(), '{"eos_token_id": -1}', where)).toThrow(ModelConfigError);
    expect(() => withGenerationStops(spec(), '{"eos_token_id": 1.5}', where)).toThrow(ModelConfigError);
    expect(() => withGenerationStops(spec(), '[1, 2]', where)).toThrow(/must hold a JSON object/);
    expect(() => withGenerationStops(spec(), '{"eos_token_id": ', where)).toThrow(
      /^malformed JSON in generation_config\.json of org\/model/,
    );
  });
});
