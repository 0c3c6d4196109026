import { describe, expect, it } from 'vitest';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { downloadModel } from '../../../src/lib/model/download';
import { writeSafetensors, type TensorToWrite } from '../../../src/lib/model/safetensors';
import { filesSource } from '../../../src/lib/model/sources';
import { expectedTensors } from '../../../src/lib/model/weights';
import { parseModelSpec } from '../../../src/lib/model/config';
import { smollm2Config } from '../../../src/lib/bench/decode';
import { seededRandom } from '../../../src/lib/util/rng';
import { fetchBytes, freshCache, SMOLLM_TOKENIZER } from '../helpers';

/** SmolLM2-135M-Instruct's config with two of its thirty layers. */
const CONFIG = { ...smollm2Config(2), torch_dtype: 'float32' };

/** Deterministic weights: small normal-ish values, norms at one. */
function randomWeights(seed: number): Uint8Array {
  const next = seededRandom(seed);
  const spec = parseModelSpec(CONFIG);
  const tensors: TensorToWrite[] = [];
  for (const [name, shape] of expectedTensors(spec)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (name.endsWith('norm.weight')) v.fill(1);
    else for (let i = 0; i < n; i++) v[i] = (next() + next() + next() - 1.5) * 0.05;
    tensors.push({ name, dtype: 'F32', shape, data: new Uint8Array(v.buffer) });
  }
  return writeSafetensors(tensors);
}

describe('a SmolLM2-shaped random model with the real tokenizer', () => {
  it('builds, loads and answers a chat prompt through the chat template', async () => {
    const files = [
      new File([JSON.stringify(CONFIG)], 'config.json'),
      new File([(await fetchBytes(`${SMOLLM_TOKENIZER}/tokenizer.json`)) as Uint8Array<ArrayBuffer>], 'tokenizer.json'),
      new File([(await fetchBytes(`${SMOLLM_TOKENIZER}/tokenizer_config.json`)) as Uint8Array<ArrayBuffer>], 'tokenizer_config.json'),
      new File([randomWeights(7) as Uint8Array<ArrayBuffer>], 'model.safetensors'),
    ];
    const cache = freshCache({ chunkSize: 32 * 1024 * 1024 });
    const model = await downloadModel(cache, filesSource(files, 'smollm2-random-2l'));
    const lm = await loadCausalLm(cache, model.key, { device: 'wasm' });
    const out = await generate(lm, { messages: [{ role: 'user', content: 'What does 3-bit quantization do?' }], maxNewTokens: 6 });
    const prompt = lm.tokenizer.decode(out.promptIds, { skip_special_tokens: false });
    expect(prompt).toContain('<|im_start|>user\nWhat does 3-bit quantization do?<|im_end|>');
    expect(prompt.trimEnd().endsWith('<|im_start|>assistant')).toBe(true);
    expect(out.newIds.length).toBeGreaterThan(0);
    expect(out.newIds.length).toBeLessThanOrEqual(6);
    expect(out.newIds.every((id) => id >= 0 && id < 49152)).toBe(true);
    // Deterministic weights and greedy decoding: the same answer twice.
    const again = await generate(lm, { messages: [{ role: 'user', content: 'What does 3-bit quantization do?' }], maxNewTokens: 6 });
    expect(again.newIds).toEqual(out.newIds);
  }, 180_000);
});
