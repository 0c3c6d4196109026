import { describe, expect, it } from 'vitest';
import { describeAdapter, isSoftwareAdapter } from '../../../src/lib/gpu/device';
import { loadCausalLm, type Device } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { generateBatch } from '../../../src/lib/infer/generate-batch';
import { perplexity, scoreOptions, splitContinuation } from '../../../src/lib/infer/scoring';
import { downloadModel, openCachedModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { fetchJson, freshCache, serverRequests, STORIES } from '../helpers';

interface Reference {
  greedy: { prompt: string; prompt_ids: number[]; ids: number[]; text: string };
  nll: { text: string; ids: number[]; mean_nll_nats: number; last_logits_first8: number[] };
}

async function stories(device: Device | 'auto') {
  const cache = freshCache();
  const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
  const lm = await loadCausalLm(cache, model.key, { device });
  return { cache, model, lm };
}

describe('stories260k through our ONNX graph, onnxruntime-web and transformers.js', () => {
  it.each(['wasm', 'webgpu'] as const)('greedy generation reproduces reference ids on %s', async (device) => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const { lm } = await stories(device);
    expect(lm.device).toBe(device);
    if (device === 'webgpu') expect(lm.adapter).toBeTruthy();
    let streamed = '';
    const out = await generate(lm, {
      prompt: ref.greedy.prompt,
      maxNewTokens: ref.greedy.ids.length - ref.greedy.prompt_ids.length,
      onText: (t) => (streamed += t),
    });
    expect(out.promptIds).toEqual(ref.greedy.prompt_ids);
    expect(out.ids).toEqual(ref.greedy.ids);
    expect(streamed.trim().length).toBeGreaterThan(20);
    expect(out.finish).toBe('length');
  });

  it('minNewTokens holds back end-of-sequence until the length is reached', async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const { lm } = await stories('wasm');
    // stories260k never emits its EOS, so a token its greedy story does emit plays that part.
    const stopAt = ref.greedy.prompt_ids.length + 3;
    const eos = ref.greedy.ids[stopAt];
    (lm.model as unknown as { generation_config: { eos_token_id: number } }).generation_config.eos_token_id = eos;
    (lm.spec as { eosTokenIds: number[] }).eosTokenIds = [eos];
    const free = await generate(lm, { prompt: ref.greedy.prompt, maxNewTokens: 40 });
    expect(free.finish).toBe('eos');
    expect(free.newIds.length).toBeLessThanOrEqual(4);
    const forced = await generate(lm, { prompt: ref.greedy.prompt, maxNewTokens: 30, minNewTokens: 30 });
    expect(forced.newIds).toHaveLength(30);
    expect(forced.newIds.slice(0, free.newIds.length - 1)).toEqual(free.newIds.slice(0, -1));
  });

  it("generation_config.json's end-of-turn ids stop a reply, one row and batched", async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    // As an instruction-tuned checkpoint lists its end-of-turn token (Gemma 3's <end_of_turn>) beside
    // config.json's EOS: here a token of the greedy story, which never emits its own EOS.
    const start = ref.greedy.prompt_ids.length;
    const turnEnd = ref.greedy.ids[start + 3];
    const config = { bos_token_id: 1, eos_token_id: [2, turnEnd], do_sample: false };
    await cache.storeBytes(model.key, 'generation_config.json', new TextEncoder().encode(JSON.stringify(config)));
    expect((await openCachedModel(cache, model.key)).spec.eosTokenIds).toEqual([2, turnEnd]);
    const lm = await loadCausalLm(cache, model.key, { device: 'wasm' });
    const reply = ref.greedy.ids.slice(start, start + 4);
    const one = await generate(lm, { prompt: ref.greedy.prompt, maxNewTokens: 40 });
    expect(one.finish).toBe('eos');
    expect(one.newIds).toEqual(reply);
    const [row, other] = await generateBatch(lm, [
      { prompt: ref.greedy.prompt, maxNewTokens: 40 },
      { prompt: 'Lily and Ben', maxNewTokens: 6 },
    ]);
    expect(row.finish).toBe('eos');
    expect(row.newIds).toEqual(reply);
    expect(other.newIds.length).toBeGreaterThan(0);

    await cache.storeBytes(model.key, 'generation_config.json', new TextEncoder().encode('{"eos_token_id": "<end_of_turn>"}'));
    await expect(openCachedModel(cache, model.key)).rejects.toThrow(
      /generation_config\.json of .*: field "eos_token_id" must be a token id or a list of them \(got "<end_of_turn>"\)/,
    );
  });

  it("a generation_config.json's decoding defaults do not change what a request asks for", async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const cache = freshCache();
    const model = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    // Model-card defaults transformers.js would merge into every call (Qwen2.5-Instruct ships a
    // repetition penalty); strong ones here, so that any of them would change the greedy story.
    const card = { eos_token_id: 2, repetition_penalty: 3, no_repeat_ngram_size: 2, num_beams: 3, suppress_tokens: [ref.greedy.ids[6]] };
    await cache.storeBytes(model.key, 'generation_config.json', new TextEncoder().encode(JSON.stringify(card)));
    const lm = await loadCausalLm(cache, model.key, { device: 'wasm' });
    const n = ref.greedy.ids.length - ref.greedy.prompt_ids.length;
    const one = await generate(lm, { prompt: ref.greedy.prompt, maxNewTokens: n });
    expect(one.ids).toEqual(ref.greedy.ids);
    const [row] = await generateBatch(lm, [
      { prompt: ref.greedy.prompt, maxNewTokens: n },
      { prompt: 'Lily and Ben went to the park.', maxNewTokens: 4 },
    ]);
    expect(row.ids).toEqual(ref.greedy.ids);
  });

  it('mean NLL and the last logits match the reference', async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const { lm } = await stories('wasm');
    const r = await perplexity(lm, ref.nll.text);
    expect(r.tokens).toBe(ref.nll.ids.length - 1);
    expect(Math.abs(r.meanNll - ref.nll.mean_nll_nats)).toBeLessThan(2e-3);
    ref.nll.last_logits_first8.forEach((v, i) => expect(Math.abs(r.lastLogits[i] - v), `logit ${i}`).toBeLessThan(1e-3));
  });

  it('a sliding window scores every token once and stays close to the full pass', async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const { lm } = await stories('wasm');
    const full = await perplexity(lm, ref.greedy.text);
    const windowed = await perplexity(lm, ref.greedy.text, { window: 16, stride: 8 });
    expect(windowed.tokens).toBe(full.tokens);
    // Less left context can only make the model less sure, never wildly so on this text.
    expect(Math.abs(windowed.meanNll - full.meanNll)).toBeLessThan(0.5);
  });

  it('scoreOptions equals the summed token log-probabilities, and prefers the real continuation', async () => {
    const ref = await fetchJson<Reference>(`${STORIES}/reference.json`);
    const { lm } = await stories('wasm');
    const prompt = 'Once upon a time, there was a little girl named Lily.';
    const real = ' She loved to play outside in the park.';
    const shuffled = ' park the She in play outside to loved.';
    const scores = await scoreOptions(lm, prompt, [real, shuffled]);
    expect(scores.best).toBe(0);
    expect(scores.logLikelihoods[0]).toBeGreaterThan(scores.logLikelihoods[1] + 5);

    const { context, continuation } = splitContinuation(lm, prompt, real);
    const whole = await perplexity(lm, prompt + real);
    const summed = whole.tokenLogProbs.slice(context.length - 1).reduce((a, b) => a + b, 0);
    expect(context.length + continuation.length).toBe(whole.tokens + 1);
    expect(Math.abs(scores.logLikelihoods[0] - summed)).toBeLessThan(1e-4);
    expect(ref.greedy.text).toContain(real.trim());
  });

  it('auto runs WebGPU on a hardware adapter and WASM on a software one, saying why', async () => {
    const report = await describeAdapter();
    const { lm } = await stories('auto');
    const software = !report.available || isSoftwareAdapter(report);
    expect(lm.device).toBe(software ? 'wasm' : 'webgpu');
    if (report.available && software) expect(lm.fallbackReason).toMatch(/runs on the CPU; WASM is faster/);
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 5 })).newIds).toHaveLength(5);
  });

  it('the graph is built once and then read from the cache', async () => {
    const { cache, model } = await stories('wasm');
    const manifest = await cache.manifest(model.key);
    expect(manifest?.files['onnx/model.onnx']?.complete).toBe(true);
    expect(manifest?.files['onnx/model.onnx_data']?.complete).toBe(true);
    await serverRequests(true);
    const again = await loadCausalLm(cache, model.key, { device: 'wasm' });
    expect((await generate(again, { prompt: 'Once upon a time', maxNewTokens: 5 })).newIds).toHaveLength(5);
    // Model files come from IndexedDB; only the runtime's own wasm may be fetched from this origin.
    expect((await serverRequests()).filter((r) => r.url.includes('/models/'))).toEqual([]);
  });

  it('a prompt longer than the context is a clear error', async () => {
    const { lm } = await stories('wasm');
    await expect(generate(lm, { prompt: 'Once upon a time '.repeat(200) })).rejects.toThrow(/context of 512 tokens/);
  });
});
