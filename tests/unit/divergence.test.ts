import { describe, expect, it } from 'vitest';
import { makeRng, randomInt } from '../../src/lib/eval/subset';
import { divergence, divergenceLabel, tokenize, type DiffSpan } from '../../src/lib/report/divergence';

const text = (spans: DiffSpan[]): string => spans.map((s) => s.text).join('');
const firsts = (spans: DiffSpan[]): DiffSpan[] => spans.filter((s) => s.kind === 'first');
const changed = (spans: DiffSpan[]): string[] => spans.filter((s) => s.kind === 'changed').map((s) => s.text);

describe('tokenize', () => {
  it('splits words, whitespace runs and punctuation and gives the text back when joined', () => {
    const t = 'Once upon a time,  there\nwas 👩‍👩‍👧.';
    expect(tokenize(t)).toEqual(['Once', ' ', 'upon', ' ', 'a', ' ', 'time', ',', '  ', 'there', '\n', 'was', ' ', '👩‍👩‍👧', '.']);
    expect(tokenize(t).join('')).toBe(t);
    expect(tokenize('')).toEqual([]);
  });
});

describe('divergence', () => {
  it('marks the first differing token on both sides and later differences as changed', () => {
    const d = divergence('The cat sat on the mat.', 'The dog sat on a mat.');
    expect(d.firstIndex).toBe(2);
    expect(d.firstChar).toBe(4);
    expect(firsts(d.left)).toEqual([{ text: 'cat', kind: 'first' }]);
    expect(firsts(d.right)).toEqual([{ text: 'dog', kind: 'first' }]);
    expect(changed(d.left)).toEqual(['the']);
    expect(changed(d.right)).toEqual(['a']);
    expect(text(d.left)).toBe('The cat sat on the mat.');
    expect(text(d.right)).toBe('The dog sat on a mat.');
    expect(divergenceLabel(d)).toBe('parts at token 3');
  });

  it('reports identical texts as not parting, in one span each', () => {
    const d = divergence('same words.', 'same words.');
    expect(d).toEqual({
      left: [{ text: 'same words.', kind: 'same' }],
      right: [{ text: 'same words.', kind: 'same' }],
      firstIndex: null,
      firstChar: null,
    });
    expect(divergenceLabel(d)).toBe('no divergence');
  });

  it('marks the end of the shorter side when one text is a prefix of the other', () => {
    const d = divergence('Once upon', 'Once upon a time');
    expect(d.firstIndex).toBe(3);
    expect(d.firstChar).toBe(9);
    expect(d.left).toEqual([
      { text: 'Once upon', kind: 'same' },
      { text: '', kind: 'first', mark: 'end' },
    ]);
    expect(firsts(d.right)).toEqual([{ text: ' ', kind: 'first' }]);
    expect(changed(d.right).join('')).toBe('a time');

    const flipped = divergence('Once upon a time', 'Once upon');
    expect(flipped.firstIndex).toBe(3);
    expect(firsts(flipped.left)).toEqual([{ text: ' ', kind: 'first' }]);
    expect(flipped.right.at(-1)).toEqual({ text: '', kind: 'first', mark: 'end' });
  });

  it('marks a gap where one side lacks tokens the other has in the middle', () => {
    const d = divergence('a b', 'a c b');
    expect(d.firstIndex).toBe(2);
    expect(d.left).toEqual([
      { text: 'a ', kind: 'same' },
      { text: '', kind: 'first', mark: 'gap' },
      { text: 'b', kind: 'same' },
    ]);
    expect(firsts(d.right)).toEqual([{ text: 'c', kind: 'first' }]);
    expect(text(d.right)).toBe('a c b');
  });

  it('handles empty texts', () => {
    expect(divergence('', '')).toEqual({ left: [], right: [], firstIndex: null, firstChar: null });
    const d = divergence('', 'Hello there');
    expect(d.firstIndex).toBe(0);
    expect(d.firstChar).toBe(0);
    expect(d.left).toEqual([{ text: '', kind: 'first', mark: 'end' }]);
    expect(d.right).toEqual([
      { text: 'Hello', kind: 'first' },
      { text: ' there', kind: 'changed' },
    ]);
  });

  it('sees differences in whitespace alone', () => {
    const d = divergence('a  b\nc', 'a b c');
    expect(d.firstIndex).toBe(1);
    expect(firsts(d.left)).toEqual([{ text: '  ', kind: 'first' }]);
    expect(firsts(d.right)).toEqual([{ text: ' ', kind: 'first' }]);
    expect(changed(d.left)).toEqual(['\n']);
    expect(changed(d.right)).toEqual([' ']);
  });

  it('keeps unicode words and emoji whole and counts offsets in UTF-16 units', () => {
    const d = divergence('👩‍👩‍👧 naïve café wins', '👩‍👩‍👧 naïve cafe wins');
    expect(d.firstIndex).toBe(4);
    expect(d.firstChar).toBe('👩‍👩‍👧 naïve '.length);
    expect(firsts(d.left)).toEqual([{ text: 'café', kind: 'first' }]);
    expect(firsts(d.right)).toEqual([{ text: 'cafe', kind: 'first' }]);
    const cjk = divergence('東京タワーです', '東京タワーでした');
    expect(cjk.firstIndex).not.toBeNull();
    expect(text(cjk.left)).toBe('東京タワーです');
    expect(text(cjk.right)).toBe('東京タワーでした');
  });

  it('does not call a still-streaming side that is only behind a divergence', () => {
    expect(divergence('Once upon a ti', 'Once upon a time there', { leftOpen: true }).firstIndex).toBeNull();
    expect(divergence('Once upon a time there', 'Once upon', { rightOpen: true }).firstIndex).toBeNull();
    expect(divergence('Once upon', 'Once upon a time', { leftOpen: true, rightOpen: true }).firstIndex).toBeNull();
    // Finished, the same texts do part; streaming, a real difference shows at once.
    expect(divergence('Once upon a ti', 'Once upon a time there').firstIndex).toBe(6);
    expect(divergence('Once upon a dog', 'Once upon a time there', { leftOpen: true }).firstIndex).toBe(6);
  });

  it('on random pairs, gives each text back and marks one first token per side where the texts part', () => {
    const rng = makeRng(15, 'divergence');
    const words = ['the', 'cat', 'sat', ' ', '  ', '\n', ',', '.', 'café', '👩‍👩‍👧', '東京'];
    const phrase = (n: number): string => Array.from({ length: n }, () => words[randomInt(rng, 0, words.length - 1)]).join(' ');
    for (let i = 0; i < 400; i++) {
      const shared = phrase(randomInt(rng, 0, 6));
      const left = shared + phrase(randomInt(rng, 0, 5));
      const right = shared + phrase(randomInt(rng, 0, 5));
      const d = divergence(left, right);
      expect(text(d.left)).toBe(left);
      expect(text(d.right)).toBe(right);
      if (left === right) {
        expect(d.firstIndex).toBeNull();
        continue;
      }
      const [a, b] = [tokenize(left), tokenize(right)];
      let k = 0;
      while (a[k] === b[k]) k++;
      expect(d.firstIndex).toBe(k);
      expect(d.firstChar).toBe(a.slice(0, k).join('').length);
      for (const spans of [d.left, d.right]) {
        const at = spans.findIndex((s) => s.kind === 'first');
        expect(firsts(spans)).toHaveLength(1);
        expect(text(spans.slice(0, at)).length).toBe(d.firstChar);
      }
    }
  });
});
