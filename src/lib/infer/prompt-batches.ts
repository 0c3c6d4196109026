import type { EvalPrompt, EvalRecord, ScoringMode } from '../eval';
import { chooseBatchSize } from './batch-size';
import type { LoadedLm } from './causal-lm';
import { promptText } from './generate';
import { generateBatch, type BatchRow } from './generate-batch';
import { scoreOptionsBatch } from './scoring';

/** One model call of an evaluation: a prompt of an item, the sample index among its generations and the sample's seed. */
export interface PromptUnit {
  item: EvalRecord['item'];
  prompt: EvalPrompt;
  sample: number;
  seed: number;
}

export interface BatchRunOptions {
  /** Rows per forward pass; absent: `chooseBatchSize` for the model, its device and each batch's longest sequence. */
  batchSize?: number;
  signal?: AbortSignal;
}

function inputOf(prompt: EvalPrompt): Pick<BatchRow, 'prompt' | 'messages'> {
  return prompt.input.kind === 'chat' ? { messages: prompt.input.messages } : { prompt: prompt.input.text };
}

/**
 * Runs `units` through the model a batch at a time and yields each batch's records with the
 * indices of their units, so a caller can store them before the next batch starts. Units are
 * taken longest first: a batch then holds prompts of similar length and pads little. Generated
 * units become generation rows (each with its budget and seed); likelihood units score all
 * their options, as many option sequences per forward pass as the batch size.
 */
export async function* runPromptBatches(
  lm: LoadedLm,
  units: readonly PromptUnit[],
  mode: ScoringMode,
  opts: BatchRunOptions = {},
): AsyncGenerator<{ index: number; record: EvalRecord }[]> {
  const texts = units.map((u) => promptText(lm, inputOf(u.prompt)).text);
  const extra = (u: PromptUnit): number => (mode === 'generate' ? u.prompt.decoding.maxNewTokens : 8);
  // Ordered by characters, not tokens: on a small model the tokenizer is a large share of the
  // time, so only each batch's first (longest) prompt is encoded, for the rule.
  const order = units.map((_, i) => i).sort((a, b) => texts[b].length + extra(units[b]) - (texts[a].length + extra(units[a])) || a - b);
  const sizeAt = (i: number): number =>
    opts.batchSize ?? chooseBatchSize(lm.spec, lm.device, lm.tokenizer.encode(texts[i]).length + extra(units[i]));
  for (let g = 0; g < order.length;) {
    if (opts.signal?.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
    const size = sizeAt(order[g]);
    if (mode === 'likelihood') {
      const group: number[] = [];
      let rows = 0;
      for (; g < order.length; g++) {
        const options = units[order[g]].prompt.options?.length ?? 0;
        if (group.length > 0 && rows + options > size) break;
        group.push(order[g]);
        rows += options;
      }
      for (const i of group) if (!units[i].prompt.options?.length) throw new Error(`${units[i].prompt.id} has no options to score`);
      const scores = await scoreOptionsBatch(
        lm,
        group.map((i) => ({ prompt: texts[i], options: units[i].prompt.options! })),
        size,
      );
      yield group.map((i, k) => ({
        index: i,
        record: { item: units[i].item, prompt: units[i].prompt, optionLogLikelihoods: scores[k].logLikelihoods },
      }));
      continue;
    }
    // Every row of a left-padded batch costs the longest prompt's prefill and attention: a batch
    // stops before a prompt under half its first one's length, so padding at most doubles the work.
    const longest = texts[order[g]].length;
    let end = g + 1;
    while (end < Math.min(order.length, g + size) && 2 * texts[order[end]].length >= longest) end++;
    const group = order.slice(g, end);
    g = end;
    const out = await generateBatch(
      lm,
      group.map((i) => {
        const { prompt, seed } = units[i];
        return { ...inputOf(prompt), maxNewTokens: prompt.decoding.maxNewTokens, temperature: prompt.decoding.temperature, seed };
      }),
      opts.signal ? { signal: opts.signal } : {},
    );
    if (opts.signal?.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
    yield group.map((i, k) => ({
      index: i,
      record: { item: units[i].item, prompt: units[i].prompt, sample: units[i].sample, output: out[k].text },
    }));
  }
}
