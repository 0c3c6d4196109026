import { describe, expect, it } from 'vitest';
import { encodePath } from '../../src/lib/util/url';

describe('encodePath', () => {
  it('keeps path-legal characters that static servers would not decode', () => {
    expect(encodePath('toxicity/toxic.jsonl.gpt3.n=25.out1.jsonl')).toBe('toxicity/toxic.jsonl.gpt3.n=25.out1.jsonl');
    expect(encodePath('a b/c@d,e+f.json')).toBe('a%20b/c@d,e+f.json');
  });
  it('escapes what would end the path or start a query', () => {
    expect(encodePath('x?y/z#w/100%.json')).toBe('x%3Fy/z%23w/100%25.json');
  });
});
