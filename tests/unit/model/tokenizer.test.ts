import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { renderChat, type ChatMessage } from '../../../src/lib/model/tokenizer';
import { SMOLLM_TOKENIZER_DIR } from './helpers';

const read = (file: string) => JSON.parse(readFileSync(join(SMOLLM_TOKENIZER_DIR, file), 'utf8')) as Record<string, unknown>;

/** The real SmolLM2 tokenizer, with its own chat template or `template` in its place. */
function tokenizer(template?: string): PreTrainedTokenizer {
  const config = read('tokenizer_config.json');
  return new PreTrainedTokenizer(read('tokenizer.json'), template === undefined ? config : { ...config, chat_template: template });
}

/**
 * A ChatML template with the switch hybrid-reasoning models put after the generation prompt
 * (written here for the test; Qwen3's own template has the same condition).
 */
const HYBRID =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}" +
  "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}";

const chat: ChatMessage[] = [{ role: 'user', content: 'Do you agree? Answer yes or no.' }];

describe('chat templates', () => {
  it('turn off the reasoning preamble of hybrid-thinking templates', () => {
    const text = renderChat(tokenizer(HYBRID), chat);
    expect(text).toBe('<|im_start|>user\nDo you agree? Answer yes or no.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    // Without the variable the same template would leave the model to think first.
    const thinking = tokenizer(HYBRID).apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }) as string;
    expect(thinking.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it('leave a template that does not read the switch as it was', () => {
    const t = tokenizer();
    const plain = t.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }) as string;
    expect(renderChat(t, chat)).toBe(plain);
    expect(plain).toContain('<|im_start|>user\nDo you agree? Answer yes or no.<|im_end|>');
  });
});
