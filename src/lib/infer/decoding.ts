import type { LoadedLm } from './causal-lm';

/**
 * Generation settings that make transformers.js decode exactly as a request asks: greedy, or
 * temperature sampling with the request's top-k. A checkpoint's `generation_config.json` may
 * carry defaults of its own (Qwen2.5-Instruct a repetition penalty of 1.05; others beams,
 * n-gram bans or suppressed tokens), which transformers.js merges into every `generate` call.
 * DecodingTrust's decoding settings are the evaluation's, not the model card's, and a batch of
 * left-padded rows must decode as each row alone does (a repetition penalty would count the
 * padding). The end-of-sequence ids are the model's own and are passed beside these.
 */
// Typed loosely: transformers.js tests these fields against null, which its typings do not admit.
const PLAIN_DECODING: Readonly<Record<string, number | null>> = {
  repetition_penalty: 1,
  no_repeat_ngram_size: 0,
  bad_words_ids: null,
  min_length: 0,
  forced_bos_token_id: null,
  forced_eos_token_id: null,
  suppress_tokens: null,
  begin_suppress_tokens: null,
  guidance_scale: null,
  num_beams: 1,
  num_return_sequences: 1,
  top_k: 0,
};

/**
 * The settings every `generate` call of `lm` starts from: `PLAIN_DECODING` and the model's own
 * end-of-sequence ids (config.json's and generation_config.json's, whether or not transformers.js
 * read the latter).
 */
export function plainDecoding(lm: Pick<LoadedLm, 'spec'>): Record<string, unknown> {
  return { ...PLAIN_DECODING, eos_token_id: lm.spec.eosTokenIds };
}
