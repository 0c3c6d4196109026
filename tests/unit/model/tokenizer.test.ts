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

  it('write a fixed date where a template would read the clock', () => {
    // The shape of Llama 3.x's system turn (written here for the test).
    const dated =
      '{%- if not date_string is defined %}{%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}' +
      '{%- else %}{%- set date_string = "01 Jan 2000" %}{%- endif %}{%- endif %}' +
      "{{ 'Today Date: ' + date_string + '\\n' }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
    const t = tokenizer(dated);
    // Without the variable the template takes today's date from the clock.
    const today = t.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }) as string;
    expect(today).not.toContain('01 Jan 2000');
    expect(today).toMatch(/^Today Date: \d\d \w{3} \d{4}\n/);
    expect(renderChat(t, chat)).toBe('Today Date: 26 Jul 2024\nDo you agree? Answer yes or no.');
  });

  it('leave a template that does not read the switch as it was', () => {
    const t = tokenizer();
    const plain = t.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }) as string;
    expect(renderChat(t, chat)).toBe(plain);
    expect(plain).toContain('<|im_start|>user\nDo you agree? Answer yes or no.<|im_end|>');
  });
});
