import { describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import RunProgress from '../../../src/components/RunProgress.svelte';
import RunHistory from '../../../src/components/RunHistory.svelte';
import { DEFAULT_RATES } from '../../../src/lib/run/cost-model';
import type { RunDoc, RunEvent } from '../../../src/lib/run/types';
import { RunProgressModel, type RunProgressView } from '../../../src/lib/run/progress';
import { parseVariants } from '../../../src/lib/variants/spec';

const VARIANTS = parseVariants('dense,rtn4,gptq4');

function evaluate(variant: string, done: number): RunEvent {
  return { phase: 'evaluate', variant, perspective: 'machine_ethics', mode: 'generate', done, total: 10, reused: 0 };
}

/** What the page shows after dense and RTN-4 finished and GPTQ-4 is under way. */
function midRun(): RunProgressView {
  const model = new RunProgressModel();
  const events: RunEvent[] = [
    {
      phase: 'plan',
      outline: {
        variants: VARIANTS.map((v) => ({ id: v.id, label: v.label, method: v.method, compressed: v.method === 'dense', finished: false })),
        cells: [{ perspective: 'machine_ethics', mode: 'generate' }],
        done: [],
        preset: 'smoke',
        modelBytes: 1e6,
        rates: DEFAULT_RATES,
      },
    },
    { phase: 'variant-start', variant: 'dense' },
    { phase: 'load', variant: 'dense' },
    ...Array.from({ length: 10 }, (_, i) => evaluate('dense', i + 1)),
    { phase: 'variant-done', variant: 'dense', timings: { loadMs: 3000, evaluateMs: 95_000 } },
    { phase: 'variant-start', variant: 'rtn4' },
    { phase: 'load', variant: 'rtn4' },
    ...Array.from({ length: 10 }, (_, i) => evaluate('rtn4', i + 1)),
    { phase: 'variant-done', variant: 'rtn4', timings: { compressMs: 20_000, loadMs: 3000, evaluateMs: 40_000 } },
    { phase: 'variant-start', variant: 'gptq4' },
    { phase: 'compress', variant: 'gptq4', message: 'layer 1 of 2', fraction: 0.5 },
    { phase: 'load', variant: 'gptq4' },
    evaluate('gptq4', 1),
    evaluate('gptq4', 4),
  ];
  events.forEach((e, i) => model.apply(e, i * 10_000));
  return model.view();
}

describe('the run progress and history', () => {
  it('show one overall bar with an ETA, the current step and the finished variants', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const view = midRun();
    const c = mount(RunProgress, { target, props: { progress: view, running: true, oncancel: () => {} } });
    flushSync();
    const overall = target.querySelector<HTMLProgressElement>('[data-testid="run-overall"]')!;
    expect(overall.max).toBe(1000);
    expect(overall.value).toBe(Math.floor(view.fraction * 1000));
    expect(overall.value).toBeGreaterThan(0);
    expect(target.querySelector('[data-testid="run-eta"]')!.textContent).toMatch(
      new RegExp(`^${Math.floor(view.fraction * 100)} % · about \\d+ (s|min) left · 2 of 3 variants$`),
    );
    // One line for the step under way, with its own bar; no bar per cell.
    expect(target.querySelectorAll('.bar-row')).toHaveLength(1);
    const step = target.querySelector('[data-testid="run-step"]')!;
    expect(step.getAttribute('data-cell')).toBe('gptq4 · machine_ethics (generate)');
    expect(step.textContent).toContain('4 / 10');
    expect(step.querySelector('progress')!.value).toBe(4);
    const finished = [...target.querySelectorAll('[data-testid="run-finished"] li')].map((li) => li.textContent?.trim());
    expect(finished).toEqual(['✓ Dense · 2 min', '✓ RTN-4 · 63 s (compressing 20 s)']);
    unmount(c);
    target.remove();
  });

  it('the history names the model and counts the variants, with estimate and actual time', () => {
    const target = document.createElement('div');
    document.body.append(target);
    const doc: RunDoc = {
      id: 'r1',
      createdAt: Date.parse('2026-12-01T10:00:00Z'),
      updatedAt: 0,
      finishedAt: Date.parse('2026-12-01T10:12:00Z'),
      plan: {
        model: { kind: 'cached', key: 'k' },
        variants: VARIANTS,
        perspectives: ['machine_ethics'],
        preset: 'smoke',
        mode: 'generate',
        seed: 0,
        data: { kind: 'offline', base: '' },
        device: 'wasm',
        calibration: { source: 'self', samples: 4, seqLen: 64 },
      },
      status: 'done',
      modelLabel: '<b>tiny</b>',
      estimate: { minutes: 10, calibratedFrom: 2 },
      variants: {},
    };
    const c = mount(RunHistory, {
      target,
      props: { runs: [doc], activeId: null, onshow: () => {}, onresume: () => {}, ondelete: () => {} },
    });
    flushSync();
    const row = target.querySelector('tr[data-run="r1"]')!;
    expect(row.querySelector('b')).toBeNull();
    expect(row.textContent).toContain('<b>tiny</b>');
    const variants = row.querySelector('[data-testid="run-variants"]')!;
    expect(variants.textContent?.trim()).toBe('3 variants');
    expect(variants.getAttribute('title')).toBe('Dense, RTN-4, GPTQ-4');
    expect(row.querySelector('[data-testid="run-estimate"]')!.textContent?.replace(/\s+/g, ' ').trim()).toBe(
      'estimated 10 min · took 12 min',
    );
    unmount(c);
    target.remove();
  });
});
