import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../../../src/lib/model/config';
import {
  checkWasm,
  checkWebGpu,
  estimateWasm,
  fp32Footprint,
  RUNTIME_BYTES,
  WASM_ADDRESS_SPACE,
} from '../../../src/lib/infer/memory-budget';

// The published configs (src/lib/model/known-models.json), the fields the estimate reads.
const SMOLLM2_135M = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
};
const QWEN25_05B = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 896,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  intermediate_size: 4864,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
};
const LLAMA32_1B = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: 2048,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  intermediate_size: 8192,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: { factor: 32, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
};

/*
 * Hand-computed, T = 1024 tokens, fp32:
 * SmolLM2-135M: embed 49152·576 = 28,311,552; per layer q,o 576² ×2 + k,v 192·576 ×2 + gate,up,down
 *   1536·576 ×3 + 2 norms ·576 = 3,540,096, ×30 = 106,202,880; final norm 576 → 134,515,008 params
 *   = 538,060,032 B. KV 2·(2·30·3·64·1024·4) = 94,371,840. Activations: logits 1024·49152·4 =
 *   201,326,592 + scores 2·9·1024²·4 = 75,497,472 + MLP 3·1024·1536·4 = 18,874,368 = 295,698,432.
 * Qwen2.5-0.5B: embed 151936·896 = 136,134,656; per layer 896² ×2 + 128·896 ×2 + biases 1152 +
 *   4864·896 ×3 + norms 1792 = 14,912,384, ×24 = 357,897,216; + 896 → 494,032,768 params =
 *   1,976,131,072 B. KV 2·(2·24·2·64·1024·4) = 50,331,648. Activations 622,329,856 + 117,440,512 +
 *   59,768,832 = 799,539,200.
 * Llama-3.2-1B: embed 128256·2048 = 262,668,288; per layer 2048² ×2 + 512·2048 ×2 + 8192·2048 ×3
 *   + 4096 = 60,821,504, ×16 = 973,144,064; + 2048 → 1,235,814,400 params = 4,943,257,600 B.
 *   KV 2·(2·16·8·64·1024·4) = 134,217,728. Activations 525,336,576 + 268,435,456 + 100,663,296 =
 *   894,435,328.
 */
const CASES = [
  { name: 'SmolLM2-135M', config: SMOLLM2_135M, weights: 538_060_032, largest: 113_246_208, kv: 94_371_840, act: 295_698_432 },
  { name: 'Qwen2.5-0.5B', config: QWEN25_05B, weights: 1_976_131_072, largest: 544_538_624, kv: 50_331_648, act: 799_539_200 },
  { name: 'Llama-3.2-1B', config: LLAMA32_1B, weights: 4_943_257_600, largest: 1_050_673_152, kv: 134_217_728, act: 894_435_328 },
];

describe('memory budget', () => {
  for (const c of CASES) {
    it(`${c.name}: fp32 footprint, KV cache and activations as computed by hand`, () => {
      const spec = parseModelSpec(c.config);
      const fp = fp32Footprint(spec);
      expect(fp.bytes).toBe(c.weights);
      expect(fp.largest).toEqual({ name: 'model.embed_tokens.weight', bytes: c.largest });
      const est = estimateWasm(spec, fp.bytes);
      expect(est.kvCache).toBe(c.kv);
      expect(est.activations).toBe(c.act);
      expect(est.weightSlack).toBe(Math.ceil(c.weights / 10));
      expect(est.total).toBe(c.weights + Math.ceil(c.weights / 10) + c.kv + c.act + RUNTIME_BYTES);
    });
  }

  it('SmolLM2-135M and Qwen2.5-0.5B fit WASM; Llama-3.2-1B does not, and the error says by how much and what to do', () => {
    const verdict = (config: object) => {
      const spec = parseModelSpec(config);
      return checkWasm('the model as fp32', estimateWasm(spec, fp32Footprint(spec).bytes));
    };
    expect(verdict(SMOLLM2_135M)).toEqual({ fits: true });
    // 1.98 + 0.20 + 0.05 + 0.80 + 0.13 = 3.16 GB of 4.29
    expect(verdict(QWEN25_05B)).toEqual({ fits: true });
    const llama = verdict(LLAMA32_1B);
    expect(llama.fits).toBe(false);
    if (llama.fits) return;
    // 4.94 + 0.49 + 0.13 + 0.89 + 0.13 = 6.60 GB
    expect(llama.reason).toMatch(/needs ≈ 6\.6 GB on WASM/);
    expect(llama.reason).toMatch(/weights 4\.9 GB/);
    expect(llama.reason).toMatch(/WASM allows 4\.3 GB/);
  });

  it('a longer context costs KV cache and activations, not weights', () => {
    const spec = parseModelSpec(QWEN25_05B);
    const short = estimateWasm(spec, fp32Footprint(spec).bytes, 1024);
    const long = estimateWasm(spec, fp32Footprint(spec).bytes, 2048);
    expect(long.weights).toBe(short.weights);
    expect(long.kvCache).toBe(2 * short.kvCache);
    // logits and MLP double, attention scores quadruple: 2·(622,329,856 + 59,768,832) + 4·117,440,512
    expect(long.activations).toBe(2 * (622_329_856 + 59_768_832) + 4 * 117_440_512);
    // 1,976,131,072 + 197,613,108 + 100,663,296 + 1,833,959,424 + 134,217,728: just under 4 GiB
    expect(long.total).toBe(4_242_584_628);
    expect(checkWasm('Qwen2.5-0.5B', long, WASM_ADDRESS_SPACE).fits).toBe(true);
    expect(checkWasm('Qwen2.5-0.5B', estimateWasm(spec, fp32Footprint(spec).bytes, 4096)).fits).toBe(false);
  });

  it('WebGPU: the largest tensor against the smaller of the two buffer limits', () => {
    const spec = parseModelSpec(LLAMA32_1B);
    const { largest } = fp32Footprint(spec);
    const big = { maxBufferSize: 4 * 1024 ** 3, maxStorageBufferBindingSize: 2 * 1024 ** 3 };
    expect(checkWebGpu('Llama-3.2-1B', largest, big)).toEqual({ fits: true });
    // Chrome's defaults when an adapter reports nothing larger: 256 MiB / 128 MiB.
    const small = checkWebGpu('Llama-3.2-1B', largest, { maxBufferSize: 268_435_456, maxStorageBufferBindingSize: 134_217_728 });
    expect(small.fits).toBe(false);
    if (small.fits) return;
    expect(small.reason).toMatch(/model\.embed_tokens\.weight of Llama-3\.2-1B takes 1\.1 GB/);
    expect(small.reason).toMatch(/allows 134 MB per buffer/);
  });
});
