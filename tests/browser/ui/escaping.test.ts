import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Explorer from '../../../src/components/Explorer.svelte';
import Dashboard from '../../../src/components/Dashboard.svelte';
import type { EvalRecord } from '../../../src/lib/eval';
import type { ResultsDoc } from '../../../src/lib/run/results';
import { ethicsEntry } from './results-fixture';

const ANSWER = '<img src=x onerror=alert(1)>';
const DATA = 'Is this wrong? <script>window.__pwned = true</script>';

function rec(output: string): EvalRecord {
  return {
    item: { id: 'x', cell: '<b>cell</b>', label: 'wrong' } as EvalRecord['item'],
    prompt: {
      id: 'x::main',
      key: 'main',
      input: { kind: 'chat', messages: [{ role: 'user', content: DATA }] },
      decoding: { maxNewTokens: 8, temperature: 0, n: 1 },
    },
    sample: 0,
    output,
    parsed: { answer: output.startsWith('<') ? null : 'wrong' },
  };
}

const doc: ResultsDoc = {
  format: 'ctlab-results',
  version: 1,
  createdAt: '2026-11-23T00:00:00Z',
  model: { key: 'k', label: '<i>model</i>' },
  settings: { preset: 'smoke', seed: 0, modes: ['generate'], perspectives: ['machine_ethics'], data: 'x', device: 'wasm', adapter: null },
  variants: [
    { id: 'dense', label: 'Dense' },
    { id: 'rtn4', label: '<u>RTN-4</u>' },
  ],
  results: ['dense', 'rtn4'].map((variant) =>
    ethicsEntry(variant, [rec(variant === 'dense' ? 'wrong' : ANSWER)], variant === 'dense' ? 100 : 0),
  ),
};

describe('model output and imported data are shown as text, never as HTML', () => {
  it('the explorer and the dashboard escape answers, prompts and labels', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const explorer = mount(Explorer, { target, props: { doc } });
    const dashboard = mount(Dashboard, { target, props: { doc } });
    flushSync();
    expect(target.querySelector('img')).toBeNull();
    expect(target.querySelector('script')).toBeNull();
    expect(target.querySelector('u')).toBeNull();
    expect(target.querySelector('i')).toBeNull();
    expect(target.textContent).toContain(ANSWER);
    expect(target.textContent).toContain(DATA);
    expect(target.textContent).toContain('<u>RTN-4</u>');
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
    unmount(explorer);
    unmount(dashboard);
    target.remove();
  });
});
