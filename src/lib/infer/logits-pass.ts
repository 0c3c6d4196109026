import { Tensor } from '@huggingface/transformers';
import { pastKeyName } from '../onnx';
import type { LoadedLm } from './causal-lm';
import { emptyKv, emptyPrefixFeeds, takesPrefix } from './prefix-session';
import { ortOf as ort } from './step-cache';

export interface LogitsPassInput {
  /** [rows, width] token ids. */
  ids: BigInt64Array;
  rows: number;
  width: number;
  /** [rows, past + width]: 1 where a position holds a real token. */
  mask: BigInt64Array;
  /** The graph's `past_key_values.*` inputs [rows, kv_heads, past, head_dim]; empty when absent. */
  past?: Record<string, Tensor>;
}

/**
 * Logits of every fed position, [rows, width, vocab], from one forward pass run on the session
 * directly with the logits as its only fetch. A pass whose cache nobody reads (scoring, perplexity)
 * then leaves it in the runtime: through transformers.js every run hands back `present`, a fresh
 * host copy of the whole cache, which costs as much as the pass on a small model. Positions are
 * the ones transformers.js derives from the mask: a real token's is the count of real tokens
 * before it, padding's is 1.
 */
export async function logitsPass(lm: LoadedLm, input: LogitsPassInput): Promise<Float32Array> {
  const { spec, session } = lm;
  const { rows, width, mask } = input;
  const total = mask.length / rows;
  const positions = new BigInt64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let seen = 0;
    for (let j = 0; j < total; j++) {
      const real = mask[r * total + j] !== 0n;
      const at = j - (total - width);
      if (at >= 0) positions[r * width + at] = real ? BigInt(seen) : 1n;
      if (real) seen++;
    }
  }
  const feeds: Record<string, unknown> = {
    input_ids: ort(new Tensor('int64', input.ids, [rows, width])),
    attention_mask: ort(new Tensor('int64', mask, [rows, total])),
    position_ids: ort(new Tensor('int64', positions, [rows, width])),
  };
  // Graphs of version 3 and later keep the logits of the last k positions; 0 keeps all.
  if (session.inputNames.includes('num_logits_to_keep')) feeds.num_logits_to_keep = ort(new Tensor('int64', BigInt64Array.of(0n), []));
  if (takesPrefix(session, spec)) Object.assign(feeds, emptyPrefixFeeds(spec));
  for (let i = 0; i < spec.numLayers; i++)
    for (const kind of ['key', 'value'] as const) {
      const name = pastKeyName(i, kind);
      const past = input.past?.[name];
      feeds[name] = past ? ort(past) : emptyKv(spec, rows);
    }
  const out = (await session.run(feeds, ['logits'])) as Record<string, { data: unknown }>;
  return out.logits.data as Float32Array;
}
