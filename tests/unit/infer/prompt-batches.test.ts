import { describe, expect, it, vi } from 'vitest';
import type { LoadedLm } from '../../../src/lib/infer/causal-lm';
import type { BatchOptions, BatchRow } from '../../../src/lib/infer/generate-batch';
import { packRuns, runPromptBatches, type PromptUnit } from '../../../src/lib/infer/prompt-batches';

const batches: string[][] = [];
const families: (number[][] | undefined)[] = [];
vi.mock('../../../src/lib/infer/generate-batch', () => ({
  generateBatch: async (_lm: unknown, rows: BatchRow[], opts: BatchOptions) => {
    batches.push(rows.map((r) => r.prompt!));
    families.push(opts.families);
    return rows.map((r) => ({ text: `${r.prompt!.length}` }));
  },
}));
/** Whether the decoder runs several families together (WASM with a graph that hands back new keys). */
let together = false;
vi.mock('../../../src/lib/infer/prefix-decode', () => ({ keepsHostCache: () => together }));

const lm = { device: 'wasm', tokenizer: { encode: (t: string) => Array.from(t) } } as unknown as LoadedLm;

function unit(text: string, i: number): PromptUnit {
  return {
    item: { id: `i${i}` } as PromptUnit['item'],
    prompt: {
      id: `i${i}::main`,
      key: 'main',
      input: { kind: 'text', text },
      decoding: { maxNewTokens: 4, temperature: 0 },
    } as PromptUnit['prompt'],
    sample: 0,
    seed: i,
  };
}

async function run(texts: string[], batchSize: number, budgets?: number[]) {
  batches.length = 0;
  families.length = 0;
  const records = new Map<number, string>();
  const units = texts.map(unit);
  budgets?.forEach((n, i) => (units[i].prompt.decoding.maxNewTokens = n));
  for await (const batch of runPromptBatches(lm, units, 'generate', { batchSize }))
    for (const { index, record } of batch) records.set(index, record.output!);
  // Every unit answered, under its own index.
  expect(texts.map((_, i) => records.get(i))).toEqual(texts.map((t) => String(t.length)));
  return batches.map((b) => b.map((p) => texts.indexOf(p)));
}

describe('generation batches', () => {
  it('take prompts longest first, at most the batch size, none under half the first one', async () => {
    const lengths = [20, 400, 190, 380, 90, 300, 100, 210, 395, 399];
    // No two share a prefix ('a', 'b', … then x).
    const texts = lengths.map((n, i) => String.fromCharCode(97 + i) + 'x'.repeat(n - 1));
    const runs = await run(texts, 4);
    expect(runs.map((r) => r.map((i) => lengths[i]))).toEqual([[400, 399, 395, 380], [300, 210, 190], [100, 90], [20]]);
  });

  it('put prompts that share a prefix together and keep it shared', async () => {
    const demos = 'Q: 2 + 2? A: 4. Q: 3 + 5? A: 8. '.repeat(8);
    const texts = [
      `${demos}Q: 1 + 1? A:`,
      `Say hello to ${'a friend '.repeat(20)}`,
      `${demos}Q: 6 + 1? A:`,
      `${demos}Q: 12 + 30 + 7? A:`,
      `Say hello to ${'a neighbour '.repeat(16)}`,
      `${demos.slice(0, 40)}Q: 9 + 9? A:`,
    ];
    const runs = await run(texts, 8);
    // The three with the whole demonstrations in one batch, the longest own part first; the
    // fourth shares 40 characters of them only, so it goes with the prompts that share nothing,
    // and those are batched by length.
    expect(runs).toEqual([[3, 0, 2], [4, 1], [5]]);
  });

  it('go family by family into batches of up to the batch size when the decoder runs families together', async () => {
    const demos = 'Q: 2 + 2? A: 4. Q: 3 + 5? A: 8. '.repeat(8);
    const story = 'Once upon a time there was a fox who lived in a wood. '.repeat(4);
    const texts = [
      `${demos}Q: 1 + 1? A:`,
      `${story}The fox`,
      `${demos}Q: 6 + 1? A:`,
      `${story}One day`,
      `Say hello to ${'a friend '.repeat(20)}`,
      `${demos}Q: 12 + 30 + 7? A:`,
    ];
    const budgets = [4, 16, 4, 16, 8, 4];
    together = true;
    try {
      const runs = await run(texts, 4, budgets);
      // The story family (16 new tokens) and the loner (8) first, then the demonstrations (4), whose three rows would not fit beside them.
      expect(runs).toEqual([
        [1, 3, 4],
        [5, 0, 2],
      ]);
      expect(families).toEqual([[[0, 1], [2]], undefined]);
    } finally {
      together = false;
    }
  });

  it('pack runs of like budgets, the largest first, never over the size', () => {
    const budget = (i: number) => [32, 8, 8, 16, 32, 16, 8][i];
    expect(packRuns([[0], [1, 2], [3], [4], [5], [6]], 3, budget)).toEqual([[[0], [4], [3]], [[5], [1, 2]], [[6]]]);
    // A run larger than the size is a batch of its own.
    expect(packRuns([[0, 1, 2, 3], [4]], 2, budget)).toEqual([[[0, 1, 2, 3]], [[4]]]);
  });
});
