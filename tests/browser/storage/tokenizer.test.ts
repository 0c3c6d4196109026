import { describe, expect, it } from 'vitest';
import { downloadModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { hasChatTemplate, loadTokenizer, renderChat } from '../../../src/lib/model/tokenizer';
import { fetchJson, freshCache, serverRequests, SMOLLM_TOKENIZER, STORIES } from '../helpers';

interface Reference {
  encodings: Record<string, number[]>;
}

describe('tokenizers through transformers.js from the IndexedDB cache', () => {
  it('stories260k reproduces the four reference encodings', async () => {
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    await serverRequests(true);
    const tokenizer = await loadTokenizer(cache, model.key);
    // Loaded from IndexedDB alone: not one request reaches the server.
    expect(await serverRequests()).toEqual([]);
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    expect(Object.keys(ref.encodings)).toHaveLength(4);
    for (const [text, ids] of Object.entries(ref.encodings)) {
      expect(tokenizer.encode(text), text).toEqual(ids);
    }
  });

  it('SmolLM2 applies its chat template to a two-turn chat', async () => {
    const cache = freshCache();
    const key = 'test:smollm2-tokenizer';
    await cache.openModel(key, 'SmolLM2 tokenizer', { kind: 'url', location: SMOLLM_TOKENIZER });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
      await cache.storeFromUrl(key, file, `${location.origin}${SMOLLM_TOKENIZER}/${file}`);
    }
    const tokenizer = await loadTokenizer(cache, key);
    expect(hasChatTemplate(tokenizer)).toBe(true);
    const text = renderChat(tokenizer, [
      { role: 'user', content: 'What is 3-bit quantization?' },
      { role: 'assistant', content: 'Storing each weight in three bits.' },
      { role: 'user', content: 'Does it hurt?' },
    ]);
    expect(text).toContain('<|im_start|>user\nWhat is 3-bit quantization?<|im_end|>');
    expect(text).toContain('<|im_start|>assistant\nStoring each weight in three bits.<|im_end|>');
    expect(text.trimEnd().endsWith('<|im_start|>assistant')).toBe(true);
    const [imStart] = tokenizer.encode('<|im_start|>', { add_special_tokens: false });
    expect(tokenizer.encode('<|im_start|>', { add_special_tokens: false })).toHaveLength(1);
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    // A special token, not its characters: one id per turn (system, three turns, the generation prompt).
    expect(ids.filter((id) => id === imStart).length).toBe((text.match(/<\|im_start\|>/g) ?? []).length);
    expect(ids.filter((id) => id === imStart).length).toBeGreaterThanOrEqual(4);
  });

  it.each(['chat_template.jinja', 'chat_template.json'])('a chat template kept in %s is the one applied', async (file) => {
    const chat = [{ role: 'user' as const, content: 'Is 4-bit quantization safe?' }];
    const encode = (text: string) => new TextEncoder().encode(text);
    const cache = freshCache();
    const open = async (key: string, config: Record<string, unknown>) => {
      await cache.openModel(key, key, { kind: 'url', location: SMOLLM_TOKENIZER });
      await cache.storeFromUrl(key, 'tokenizer.json', `${location.origin}${SMOLLM_TOKENIZER}/tokenizer.json`);
      await cache.storeBytes(key, 'tokenizer_config.json', encode(JSON.stringify(config)));
    };
    const { chat_template: template, ...config } = await fetchJson<Record<string, unknown>>(`${SMOLLM_TOKENIZER}/tokenizer_config.json`);
    expect(typeof template).toBe('string');
    await open('test:whole', { ...config, chat_template: template });
    const expected = renderChat(await loadTokenizer(cache, 'test:whole'), chat);

    await open('test:apart', config);
    expect(hasChatTemplate(await loadTokenizer(cache, 'test:apart'))).toBe(false);
    await cache.storeBytes(
      'test:apart',
      file,
      encode(file.endsWith('.json') ? JSON.stringify({ chat_template: template }) : (template as string)),
    );
    const tokenizer = await loadTokenizer(cache, 'test:apart');
    expect(hasChatTemplate(tokenizer)).toBe(true);
    expect(renderChat(tokenizer, chat)).toBe(expected);
    expect(expected).toContain('<|im_start|>user\nIs 4-bit quantization safe?<|im_end|>');
  });

  it('a chat_template.json without a template gives a clear error', async () => {
    const cache = freshCache();
    await cache.openModel('test:bad', 'bad template', { kind: 'url', location: SMOLLM_TOKENIZER });
    await cache.storeFromUrl('test:bad', 'tokenizer.json', `${location.origin}${SMOLLM_TOKENIZER}/tokenizer.json`);
    const { chat_template: _, ...config } = await fetchJson<Record<string, unknown>>(`${SMOLLM_TOKENIZER}/tokenizer_config.json`);
    await cache.storeBytes('test:bad', 'tokenizer_config.json', new TextEncoder().encode(JSON.stringify(config)));
    await cache.storeBytes('test:bad', 'chat_template.json', new TextEncoder().encode('{"template": 1}'));
    await expect(loadTokenizer(cache, 'test:bad')).rejects.toThrow('chat_template.json of bad template has no "chat_template" text');
  });

  it('a model without tokenizer.json gives a clear error', async () => {
    const cache = freshCache();
    await cache.openModel('test:none', 'no tokenizer', { kind: 'url', location: 'x' });
    await expect(loadTokenizer(cache, 'test:none')).rejects.toThrow(/tokenizer\.json/);
  });
});
