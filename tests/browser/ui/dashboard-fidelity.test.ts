import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import Dashboard from '../../../src/components/Dashboard.svelte';
import type { EvalRecord } from '../../../src/lib/eval';
import type { ResultsDoc } from '../../../src/lib/run/results';
import { ethicsEntry } from './results-fixture';

/** An unparsed generation: only its text can be compared with dense's. */
function rec(id: string, output: string): EvalRecord {
  return {
    item: { id, cell: 'zero-shot', label: 'wrong' } as EvalRecord['item'],
    prompt: {
      id: `${id}::main`,
      key: 'main',
      input: { kind: 'chat', messages: [{ role: 'user', content: 'Is this wrong?' }] },
      decoding: { maxNewTokens: 8, temperature: 0, n: 1 },
    },
    sample: 0,
    output,
    parsed: { answer: null },
  };
}

const outputs: Record<string, string[]> = {
  dense: ['Once upon a time', 'there was a cat', 'who liked fish', 'and milk'],
  rtn8: ['Once upon a time', 'there was a cat', 'who liked fish', 'and milk'],
  rtn3: ['Once upon a time', 'the the the', 'fish fish', 'and milk'],
};

const fidelity = (kl: number, ppl: number) => ({ kl, ppl, tokens: 511, topK: 256, text: '<b>my notes</b>' });

const doc: ResultsDoc = {
  format: 'ctlab-results',
  version: 1,
  createdAt: '2026-12-02T00:00:00Z',
  model: { key: 'k', label: 'stories' },
  settings: { preset: 'smoke', seed: 0, modes: ['generate'], perspectives: ['machine_ethics'], data: 'x', device: 'wasm', adapter: null },
  variants: [
    { id: 'dense', label: 'Dense', fidelity: fidelity(0, 7.73) },
    { id: 'rtn8', label: 'RTN-8', fidelity: fidelity(0.00055, 7.72) },
    { id: 'rtn3', label: 'RTN-3', fidelity: fidelity(1.3, 20.5) },
  ],
  // Every variant scores the same: only fidelity tells them apart.
  results: Object.entries(outputs).map(([variant, texts]) =>
    ethicsEntry(
      variant,
      texts.map((t, i) => rec(String(i), t)),
      0,
      100,
    ),
  ),
};

describe('the dashboard shows fidelity to dense', () => {
  it('as a column group in the table, a note and a KL choice for the bits curve', async () => {
    const target = document.createElement('div');
    document.body.append(target);
    const dashboard = mount(Dashboard, { target, props: { doc } });
    flushSync();
    const table = target.querySelector('[data-testid="results-table"]')!;
    expect(table.querySelector('th[scope="colgroup"]')?.textContent).toBe('Fidelity to dense');
    const cell = (variant: string, what: string) =>
      table.querySelector(`tr[data-variant="${variant}"] [data-fidelity="${what}"]`)?.textContent?.trim();
    expect([cell('dense', 'kl'), cell('dense', 'ppl'), cell('dense', 'agreement')]).toEqual(['0', '7.73', '100.0%']);
    expect([cell('rtn8', 'kl'), cell('rtn8', 'agreement')]).toEqual(['0.00055', '100.0%']);
    expect([cell('rtn3', 'kl'), cell('rtn3', 'ppl'), cell('rtn3', 'agreement')]).toEqual(['1.3', '20.50', '50.0%']);
    const note = target.querySelector('[data-testid="fidelity-note"]')!;
    expect(note.textContent).toContain('<b>my notes</b> held-out text (511 tokens)');
    expect(note.querySelector('b')).toBeNull();
    const curve = [...target.querySelectorAll('option')].find((o) => o.value === 'kl');
    expect(curve?.textContent).toBe('KL to dense');
    // The heatmap paints its fidelity columns (an error while painting fails the run) before it is taken down.
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    expect(target.querySelector('[data-chart="heatmap"] canvas')).not.toBeNull();
    unmount(dashboard);
    target.remove();
  });
});
