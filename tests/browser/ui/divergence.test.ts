import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Explorer from '../../../src/components/Explorer.svelte';
import LiveDemo from '../../../src/components/LiveDemo.svelte';
import type { CachedModelSummary } from '../../../src/lib/app/model-library';
import type { EvalRecord } from '../../../src/lib/eval';
import type { ResultsDoc } from '../../../src/lib/run/results';
import { ethicsEntry } from './results-fixture';
import type { Reply } from '../../../src/state/playground.svelte';

const DENSE = 'The cat sat on the mat, then slept.';
const MARKUP = '<b>x</b><img src=x onerror="window.__pwned = true">';
const ANSWERS: Record<string, { output: string; correct: boolean }> = {
  dense: { output: DENSE, correct: true },
  rtn4: { output: 'The cat sat on a mat, then ran.', correct: false },
  awq4: { output: DENSE, correct: false },
  wanda: { output: `The cat ${MARKUP}`, correct: false },
};

function rec(output: string, correct: boolean): EvalRecord {
  return {
    item: { id: 'x', cell: 'zero-shot', label: 'wrong' } as EvalRecord['item'],
    prompt: {
      id: 'x::main',
      key: 'main',
      input: { kind: 'chat', messages: [{ role: 'user', content: 'Is this wrong?' }] },
      decoding: { maxNewTokens: 16, temperature: 0, n: 1 },
    },
    sample: 0,
    output,
    parsed: { answer: 'wrong', correct },
  };
}

const doc: ResultsDoc = {
  format: 'ctlab-results',
  version: 1,
  createdAt: '2026-12-02T00:00:00Z',
  model: { key: 'k', label: 'model' },
  settings: { preset: 'smoke', seed: 0, modes: ['generate'], perspectives: ['machine_ethics'], data: 'x', device: 'wasm', adapter: null },
  variants: Object.keys(ANSWERS).map((id) => ({ id, label: id })),
  results: Object.entries(ANSWERS).map(([variant, a]) => ethicsEntry(variant, [rec(a.output, a.correct)], a.correct ? 100 : 0)),
};

const mounted: { component: Record<string, unknown>; target: HTMLElement }[] = [];
function render(mounting: (target: HTMLElement) => Record<string, unknown>): HTMLElement {
  const target = document.createElement('div');
  document.body.append(target);
  mounted.push({ component: mounting(target), target });
  flushSync();
  return target;
}
afterEach(() => {
  for (const m of mounted.splice(0)) {
    unmount(m.component);
    m.target.remove();
  }
});

const firstMarks = (el: Element): string[] => [...el.querySelectorAll('[data-divergence="first"]')].map((e) => e.textContent ?? '');

describe('divergence in the item explorer', () => {
  it('marks the first token where a variant parts from dense, highlights later differences and escapes markup', () => {
    const target = render((target) => mount(Explorer, { target, props: { doc } }));
    const answer = (variant: string): Element => target.querySelector(`.answer[data-variant="${variant}"]`)!;

    // Dense is the baseline: it carries no marks.
    expect(firstMarks(answer('dense'))).toEqual([]);
    expect(answer('dense').querySelector('.divergence-note')).toBeNull();

    // "The cat sat on " agree; the 9th token ("the" / "a") is where they part.
    expect(firstMarks(answer('rtn4'))).toEqual(['a']);
    expect(answer('rtn4').querySelector('.divergence-note')!.textContent).toBe('parts at token 9');
    expect([...answer('rtn4').querySelectorAll('.diff-changed')].map((e) => e.textContent)).toEqual(['ran']);
    expect(answer('rtn4').querySelector('pre')!.textContent).toBe(ANSWERS.rtn4.output);

    expect(firstMarks(answer('awq4'))).toEqual([]);
    expect(answer('awq4').querySelector('.divergence-note')!.textContent).toBe('same as dense');

    expect(firstMarks(answer('wanda'))).toEqual(['<']);
    expect(answer('wanda').querySelector('pre')!.textContent).toBe(ANSWERS.wanda.output);
    expect(target.querySelector('b')).toBeNull();
    expect(target.querySelector('img')).toBeNull();
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
  });
});

describe('divergence in the live demo', () => {
  const model = (key: string): CachedModelSummary => ({
    key,
    label: key,
    status: 'complete',
    bytes: 1,
    files: [],
    updatedAt: 0,
    resumeFrom: null,
  });
  const models = [model('stories260k'), model('variant:rtn4')];
  const reply = (text: string, state: Reply['state'] = 'done'): Reply => ({ prompt: 'Once upon a time', text, state });
  const side = (target: HTMLElement, s: 'left' | 'right'): Element => target.querySelector(`.reply[data-side="${s}"]`)!;

  it('marks the first differing token on both finished replies and renders markup as text', () => {
    const target = render((target) =>
      mount(LiveDemo, {
        target,
        props: {
          models,
          left: reply(' there was a girl named Lily.'),
          right: reply(` there was a boy ${MARKUP}`),
          onask: () => {},
        },
      }),
    );
    expect(firstMarks(side(target, 'left'))).toEqual(['girl']);
    expect(firstMarks(side(target, 'right'))).toEqual(['boy']);
    expect(target.querySelector('[data-testid="demo-divergence"]')!.textContent).toContain('parts at token 8');
    expect(side(target, 'right').querySelector('pre')!.textContent).toBe(` there was a boy ${MARKUP}`);
    expect(target.querySelector('b')).toBeNull();
    expect(target.querySelector('img')).toBeNull();
  });

  it('marks where a finished reply ends against a longer one, and waits while the shorter still streams', () => {
    const done = render((target) =>
      mount(LiveDemo, { target, props: { models, left: reply(' there was'), right: reply(' there was a girl.'), onask: () => {} } }),
    );
    expect(side(done, 'left').querySelector('[data-divergence="first"]')!.getAttribute('data-mark')).toBe('end');
    expect(firstMarks(side(done, 'right'))).toEqual([' ']);

    const streaming = render((target) =>
      mount(LiveDemo, {
        target,
        props: {
          models,
          left: reply(' there was', 'streaming'),
          right: reply(' there was a girl.'),
          onask: () => {},
        },
      }),
    );
    expect(firstMarks(streaming)).toEqual([]);
    expect(streaming.querySelector('[data-testid="demo-divergence"]')!.textContent).toContain('no divergence yet');
    expect(side(streaming, 'left').querySelector('pre')!.textContent).toBe(' there was');
  });
});
