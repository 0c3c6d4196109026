import { StoppingCriteria, TextStreamer, Tensor, random } from '@huggingface/transformers';
import { renderChat, hasChatTemplate, type ChatMessage } from '../model/tokenizer';
import type { LoadedLm } from './causal-lm';
import { plainDecoding } from './decoding';

export interface GenerateOptions {
  /** Raw text (BOS added as the tokenizer does) — or `messages`, rendered with the chat template. */
  prompt?: string;
  messages?: ChatMessage[];
  maxNewTokens?: number;
  /** End-of-sequence is suppressed until this many tokens exist (speed measurements want a fixed length). */
  minNewTokens?: number;
  /** 0 (default) is greedy; above 0 samples with this temperature. */
  temperature?: number;
  topK?: number;
  /** Seed for sampling; the same seed gives the same text. */
  seed?: number;
  /** Generation stops once the new text contains one of these; the result is cut before it. */
  stop?: string[];
  /** Called with each new piece of text as it is decoded. */
  onText?: (delta: string) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Prompt ids followed by generated ids, as the model saw them (BOS included). */
  ids: number[];
  promptIds: number[];
  newIds: number[];
  text: string;
  finish: 'eos' | 'length' | 'stop' | 'cancelled';
  prefillMs: number;
  decodeMs: number;
  /** Decode speed after the first token. */
  tokensPerSecond: number | null;
}

export class ContextLengthError extends Error {
  override name = 'ContextLengthError';
}

/** Stops on stop strings and on cancellation; transformers.js calls it after every token. */
class StopCriteria extends StoppingCriteria {
  stopped: 'stop' | 'cancelled' | null = null;
  constructor(
    private readonly lm: LoadedLm,
    private readonly promptLength: number,
    private readonly stop: string[],
    private readonly signal?: AbortSignal,
  ) {
    super();
  }
  override _call(inputIds: number[][]): boolean[] {
    return inputIds.map((row) => {
      if (this.signal?.aborted) return Boolean((this.stopped = 'cancelled'));
      if (this.stop.length === 0) return false;
      const text = this.lm.tokenizer.decode(row.slice(this.promptLength).map(Number), { skip_special_tokens: true });
      if (this.stop.some((s) => text.includes(s))) return Boolean((this.stopped = 'stop'));
      return false;
    });
  }
}

/** The prompt's token ids as the model sees them: a chat template writes its own special tokens, raw text gets the tokenizer's (BOS). */
export function encodePrompt(lm: LoadedLm, opts: Pick<GenerateOptions, 'prompt' | 'messages'>): number[] {
  const { text, chat } = promptText(lm, opts);
  return lm.tokenizer.encode(text, { add_special_tokens: !chat });
}

export function promptText(lm: LoadedLm, opts: Pick<GenerateOptions, 'prompt' | 'messages'>): { text: string; chat: boolean } {
  if (opts.messages?.length) {
    if (!hasChatTemplate(lm.tokenizer)) {
      // No template: a plain transcript is the most neutral rendering a base model can continue.
      return { text: opts.messages.map((m) => `${m.role}: ${m.content}`).join('\n') + '\nassistant:', chat: false };
    }
    return { text: renderChat(lm.tokenizer, opts.messages), chat: true };
  }
  if (opts.prompt === undefined) throw new Error('generate needs a prompt or messages');
  return { text: opts.prompt, chat: false };
}

/** Generation through transformers.js: its sampler, streamer and stopping machinery, our session. */
export async function generate(lm: LoadedLm, opts: GenerateOptions): Promise<GenerateResult> {
  const promptIds = encodePrompt(lm, opts);
  const context = lm.spec.maxPositions;
  if (promptIds.length >= context) {
    throw new ContextLengthError(`The prompt is ${promptIds.length} tokens; ${lm.label} has a context of ${context} tokens`);
  }
  const maxNewTokens = Math.min(opts.maxNewTokens ?? 64, context - promptIds.length);
  const temperature = opts.temperature ?? 0;
  if (temperature > 0) random.seed(opts.seed ?? 0);

  const started = performance.now();
  let firstTokenAt: number | null = null;
  let streamed = 0;
  const streamer = new TextStreamer(lm.tokenizer, {
    skip_prompt: true,
    skip_special_tokens: true,
    callback_function: (piece: string) => opts.onText?.(piece),
    token_callback_function: () => {
      firstTokenAt ??= performance.now();
      streamed++;
    },
  });
  const criteria = new StopCriteria(lm, promptIds.length, opts.stop ?? [], opts.signal);
  const inputIds = new Tensor('int64', BigInt64Array.from(promptIds, BigInt), [1, promptIds.length]);
  const attention = new Tensor('int64', new BigInt64Array(promptIds.length).fill(1n), [1, promptIds.length]);
  const output = (await lm.model.generate({
    input_ids: inputIds,
    attention_mask: attention,
    ...plainDecoding(lm),
    max_new_tokens: maxNewTokens,
    ...(opts.minNewTokens ? { min_new_tokens: Math.min(opts.minNewTokens, maxNewTokens) } : {}),
    do_sample: temperature > 0,
    ...(temperature > 0 ? { temperature, top_k: opts.topK ?? 0 } : {}),
    streamer,
    stopping_criteria: [criteria],
  } as Parameters<LoadedLm['model']['generate']>[0])) as Tensor;
  const finished = performance.now();

  const ids = Array.from(output.data as BigInt64Array, Number);
  const newIds = ids.slice(promptIds.length);
  let out = lm.tokenizer.decode(newIds, { skip_special_tokens: true });
  if (criteria.stopped === 'stop') {
    const cut = Math.min(...(opts.stop ?? []).map((s) => out.indexOf(s)).filter((i) => i >= 0));
    out = out.slice(0, cut);
  }
  const eos = new Set(lm.spec.eosTokenIds);
  const finish = criteria.stopped ?? (newIds.length > 0 && eos.has(newIds[newIds.length - 1]) ? 'eos' : 'length');
  const prefillMs = (firstTokenAt ?? finished) - started;
  const decodeMs = firstTokenAt === null ? 0 : finished - firstTokenAt;
  return {
    ids,
    promptIds,
    newIds,
    text: out,
    finish,
    prefillMs,
    decodeMs,
    tokensPerSecond: streamed > 1 && decodeMs > 0 ? ((streamed - 1) * 1000) / decodeMs : null,
  };
}
