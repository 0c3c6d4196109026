import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { ModelManifest } from '../storage/manifest';
import type { ShardCache } from '../storage/shard-cache';
import { transformersIdFor } from '../storage/transformers-cache';
import { CHAT_TEMPLATE_FILES } from './download';

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

/** Loads the tokenizer (and its chat template) of a cached model through transformers.js. */
export async function loadTokenizer(cache: ShardCache, modelKey: string): Promise<PreTrainedTokenizer> {
  const manifest = await cache.manifest(modelKey);
  if (!manifest?.files['tokenizer.json']?.complete) {
    throw new TokenizerLoadError(
      `${manifest?.label ?? modelKey} has no tokenizer.json in the cache; the model folder must include a fast tokenizer (tokenizer.json)`,
    );
  }
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(transformersIdFor(cache, modelKey));
  } catch (err) {
    throw new TokenizerLoadError(`Could not load the tokenizer of ${manifest.label}: ${(err as Error).message}`);
  }
  if (!hasChatTemplate(tokenizer)) {
    const template = await separateChatTemplate(cache, manifest);
    if (template) (tokenizer as unknown as { chat_template: unknown }).chat_template = template;
  }
  return tokenizer;
}

/**
 * The chat template of a checkpoint that keeps it beside `tokenizer_config.json`, which
 * transformers.js' tokenizer does not read: `chat_template.jinja` as it is, or the
 * `chat_template` field of a processor's `chat_template.json`.
 */
async function separateChatTemplate(cache: ShardCache, manifest: ModelManifest): Promise<string | null> {
  const [jinja, json] = CHAT_TEMPLATE_FILES;
  const has = (f: string) => manifest.files[f]?.complete === true;
  if (has(jinja)) return cache.readText(manifest.key, jinja);
  if (!has(json)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await cache.readText(manifest.key, json));
  } catch (err) {
    throw new TokenizerLoadError(`${json} of ${manifest.label} is not valid JSON: ${(err as Error).message}`);
  }
  const template = (parsed as { chat_template?: unknown } | null)?.chat_template;
  if (typeof template !== 'string') throw new TokenizerLoadError(`${json} of ${manifest.label} has no "chat_template" text`);
  return template;
}

export function hasChatTemplate(tokenizer: PreTrainedTokenizer): boolean {
  return Boolean((tokenizer as unknown as { chat_template?: unknown }).chat_template);
}

/**
 * Variables every chat template is rendered with; templates that do not read one render as
 * without it.
 * - `enable_thinking: false`: hybrid-reasoning models (Qwen3, SmolLM3) open their answer with a
 *   `<think>` block unless it is off; DecodingTrust's prompts expect the answer itself within a
 *   small token budget (a stereotype reply, one label), and the study's models had no such mode.
 * - `date_string`: Llama 3.x templates write "Today Date: …" into the system turn from the clock
 *   when it is not given, so the same evaluation would prompt differently each day (and a run
 *   resumed or sharded across days would mix prompts). The fixed date is the templates' own
 *   fallback.
 */
export const CHAT_TEMPLATE_VARIABLES: Readonly<Record<string, unknown>> = { enable_thinking: false, date_string: '26 Jul 2024' };

/** The prompt text for a chat, with the generation prompt appended, as the model's template writes it. */
export function renderChat(tokenizer: PreTrainedTokenizer, messages: ChatMessage[]): string {
  return tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true, ...CHAT_TEMPLATE_VARIABLES }) as string;
}
