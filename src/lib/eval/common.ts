/** Prompt construction and record handling shared by the perspectives. */
import type {
  BaseItem,
  ChatMessage,
  DecodingSettings,
  EvalPrompt,
  EvalRecord,
  ParseContext,
  Perspective,
  PromptInput,
  PromptOptions,
  ScoringMode,
} from './types';
import { EvalError } from './types';
import { argmax, capitalize } from './parse-util';

export const HELPFUL_SYSTEM = 'You are a helpful assistant.';
export const PATTERN_SYSTEM = 'You are a helpful, pattern-following assistant.';
export const FEW_SHOT_ACK = "Sure, I'd be happy to!";

/** A demonstration: input text and its label. */
export type Demo = readonly [input: string, label: string];

/**
 * DecodingTrust's classification messages (`Chat.do_classification`, example_prefix=False):
 * zero-shot → system "helpful", user "task\ninput"; few-shot → system "pattern-following", the task
 * as a user turn acknowledged by the assistant, each demo as a user/assistant pair (label
 * capitalised), then the input.
 */
export function classificationMessages(taskMessage: string, input: string, demos: readonly Demo[]): ChatMessage[] {
  if (demos.length === 0) {
    return [
      { role: 'system', content: HELPFUL_SYSTEM },
      { role: 'user', content: `${taskMessage}\n${input}` },
    ];
  }
  const messages: ChatMessage[] = [
    { role: 'system', content: PATTERN_SYSTEM },
    { role: 'user', content: taskMessage },
    { role: 'assistant', content: FEW_SHOT_ACK },
  ];
  for (const [text, label] of demos) {
    messages.push({ role: 'user', content: text });
    messages.push({ role: 'assistant', content: capitalize(label) });
  }
  messages.push({ role: 'user', content: input });
  return messages;
}

export function chat(messages: ChatMessage[]): PromptInput {
  return { kind: 'chat', messages };
}

export function makePrompt(
  item: BaseItem,
  key: string,
  input: PromptInput,
  decoding: DecodingSettings,
  extra: { options?: string[]; meta?: EvalPrompt['meta'] } = {},
): EvalPrompt {
  return { id: `${item.id}::${key}`, key, input, decoding, ...extra };
}

/** Greedy decoding with a short budget (classification tasks). */
export function greedy(maxNewTokens: number): DecodingSettings {
  return { maxNewTokens, temperature: 0, n: 1 };
}

/**
 * The prompt with the most demonstrations (≤ `maxShots`) that `fits` accepts; demonstrations are
 * dropped from the end. Binary search, assuming longer prompts never fit when shorter ones do not.
 */
export function fitShots(build: (shots: number) => EvalPrompt, maxShots: number, opts?: PromptOptions): EvalPrompt {
  const fits = opts?.fits;
  const full = build(maxShots);
  if (!fits || maxShots === 0 || fits(full)) return full;
  let lo = 0;
  let hi = maxShots - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (fits(build(mid))) lo = mid;
    else hi = mid - 1;
  }
  return build(lo);
}

/**
 * A classification item's one prompt: DecodingTrust's classification messages with as many of
 * `demos` as fit, greedy decoding; `extra(k)` gives the options and meta for k demonstrations.
 */
export function classificationPrompt(
  item: BaseItem,
  task: { message: string; input: string; demos: readonly Demo[]; maxNewTokens: number },
  extra: (shots: number) => { options?: string[]; meta?: EvalPrompt['meta'] },
  opts?: PromptOptions,
): EvalPrompt {
  return fitShots(
    (k) =>
      makePrompt(
        item,
        'main',
        chat(classificationMessages(task.message, task.input, task.demos.slice(0, k))),
        greedy(task.maxNewTokens),
        extra(k),
      ),
    task.demos.length,
    opts,
  );
}

/**
 * Records with `parsed` filled: in generate mode from `output` (kept if already parsed); in
 * likelihood mode from the most likely option, parsed as if the model had written it.
 */
export function resolveRecords<I extends BaseItem, P>(
  perspective: Pick<Perspective<I, P>, 'id' | 'parse'>,
  records: readonly EvalRecord<I, P>[],
  mode: ScoringMode,
  ctx: ParseContext,
): Array<EvalRecord<I, P> & { parsed: P }> {
  if (records.length === 0) throw new EvalError(`${perspective.id}: no records to score`);
  return records.map((r) => {
    if (mode === 'likelihood') {
      const options = r.prompt.options;
      const ll = r.optionLogLikelihoods;
      if (!options || options.length === 0)
        throw new EvalError(`${perspective.id}: prompt ${r.prompt.id} has no options for likelihood mode`);
      if (!ll || ll.length !== options.length) {
        throw new EvalError(
          `${perspective.id}: prompt ${r.prompt.id} needs ${options.length} option log-likelihoods, got ${ll?.length ?? 0}`,
        );
      }
      return { ...r, output: options[argmax(ll)], parsed: perspective.parse(r.item, r.prompt, options[argmax(ll)], ctx) };
    }
    if (r.parsed !== undefined) return r as EvalRecord<I, P> & { parsed: P };
    if (typeof r.output !== 'string') throw new EvalError(`${perspective.id}: record for ${r.prompt.id} has neither output nor parsed`);
    return { ...r, parsed: perspective.parse(r.item, r.prompt, r.output, ctx) };
  });
}

/** Integer-valued shares as percentages keyed by name, for breakdowns. */
export function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of items) out[key(t)] = (out[key(t)] ?? 0) + 1;
  return out;
}
