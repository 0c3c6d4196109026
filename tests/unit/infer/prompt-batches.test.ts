import { describe, expect, it, vi } from 'vitest';
import type { LoadedLm } from '../../../src/lib/infer/causal-lm';
import type { BatchRow } from '../../../src/lib/infer/generate-batch';
import { runPromptBatches, type PromptUnit } from '../../../src/lib/infer/prompt-batches';

const batches: string[][] = [];
vi.mock('../../../src/lib/infer/generate-batch', () => ({
  generateBatch: async (_lm: unknown, rows: BatchRow[]) => {
    batches.push(rows.map((r) => r.prompt!));
    return rows.map((r) => ({ text: `${r.prompt!.length}` }));
  },
}));

const lm = { device: 'wasm', tokenizer: { encode: (t: string) => Array.from(t) } } as unknown as LoadedLm;

function unit(chars: number, i: number): PromptUnit {
  return {
    item: { id: `i${i}` } as PromptUnit['item'],
    prompt: {
      id: `i${i}::main`,
      key: 'main',
      input: { kind: 'text', text: 'x'.repeat(chars) },
      decoding: { maxNewTokens: 4, temperature: 0 },
    } as PromptUnit['prompt'],
    sample: 0,
    seed: i,
  };
}

describe('generation batches', () => {
  it('take prompts longest first, at most the batch size, none under half the first one', async () => {
    batches.length = 0;
    const lengths = [20, 400, 190, 380, 90, 300, 100, 210, 395, 399];
    const units = lengths.map(unit);
    const records = new Map<number, string>();
    for await (const batch of runPromptBatches(lm, units, 'generate', { batchSize: 4 }))
      for (const { index, record } of batch) records.set(index, record.output!);
    expect(batches.map((b) => b.map((p) => p.length))).toEqual([[400, 399, 395, 380], [300, 210, 190], [100, 90], [20]]);
    // Every unit answered, under its own index.
    expect(lengths.map((_, i) => records.get(i))).toEqual(lengths.map(String));
  });
});
