import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_MODELS, headDimOf, type HubConfig } from '../../../src/lib/model/known-models';

const SCRIPT = join(import.meta.dirname, '../../../scripts/make-random-checkpoints.mjs');
const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const GEMMA = 'google/gemma-3-270m-it';
// Gemma's 262144-token embedding alone is 335 MB; a smaller vocabulary keeps the test quick
// while still exercising the tokenizer padding (SmolLM2's has 49152 tokens).
const GEMMA_VOCAB = 50_000;

interface Header {
  [name: string]: { dtype: string; shape: number[]; data_offsets: [number, number] };
}

function readSafetensors(path: string): { header: Header; metadata: unknown; data: Buffer } {
  const file = readFileSync(path);
  const length = Number(file.readBigUInt64LE(0));
  expect(length % 8).toBe(0);
  const { __metadata__: metadata, ...header } = JSON.parse(file.subarray(8, 8 + length).toString('utf8'));
  return { header, metadata, data: file.subarray(8 + length) };
}

function bf16ToNumbers(bytes: Buffer): Float32Array {
  const bits = new Uint32Array(bytes.length / 2);
  for (let i = 0; i < bits.length; i++) bits[i] = bytes.readUInt16LE(2 * i) << 16;
  return new Float32Array(bits.buffer);
}

/** The HF tensors a config implies, with the std (or constant) the script promises for each. */
function expected(config: HubConfig): Map<string, { shape: number[]; std?: number; value?: number }> {
  const gemma = config.model_type === 'gemma3_text';
  const h = config.hidden_size;
  const d = headDimOf(config);
  const q = config.num_attention_heads * d;
  const kv = (config.num_key_value_heads ?? config.num_attention_heads) * d;
  const norm = { value: gemma ? 0 : 1 };
  const out = new Map<string, { shape: number[]; std?: number; value?: number }>();
  out.set('model.embed_tokens.weight', { shape: [config.vocab_size, h], std: gemma ? 1 / Math.sqrt(h) : 1 });
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    for (const n of ['input_layernorm', 'post_attention_layernorm']) out.set(`${p}${n}.weight`, { shape: [h], ...norm });
    out.set(`${p}self_attn.q_proj.weight`, { shape: [q, h], std: 1 / Math.sqrt(h) });
    out.set(`${p}self_attn.k_proj.weight`, { shape: [kv, h], std: 1 / Math.sqrt(h) });
    out.set(`${p}self_attn.v_proj.weight`, { shape: [kv, h], std: 1 / Math.sqrt(h) });
    out.set(`${p}self_attn.o_proj.weight`, { shape: [h, q], std: 1 / Math.sqrt(q) });
    out.set(`${p}mlp.gate_proj.weight`, { shape: [config.intermediate_size, h], std: 1 / Math.sqrt(h) });
    out.set(`${p}mlp.up_proj.weight`, { shape: [config.intermediate_size, h], std: 1 / Math.sqrt(h) });
    out.set(`${p}mlp.down_proj.weight`, { shape: [h, config.intermediate_size], std: 1 / Math.sqrt(config.intermediate_size) });
    if (gemma) {
      for (const n of ['self_attn.q_norm', 'self_attn.k_norm']) out.set(`${p}${n}.weight`, { shape: [d], ...norm });
      for (const n of ['pre_feedforward_layernorm', 'post_feedforward_layernorm']) out.set(`${p}${n}.weight`, { shape: [h], ...norm });
    }
  }
  out.set('model.norm.weight', { shape: [h], ...norm });
  return out;
}

function std(values: Float32Array): number {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / values.length;
  return Math.sqrt(sq / values.length - mean * mean);
}

describe('make-random-checkpoints', { timeout: 60_000 }, () => {
  let out: string;
  let log: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'ctlab-ckpt-'));
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [SCRIPT, '--out', out, '--layers', '2', '--seed', '7', ...args], { encoding: 'utf8' });
    // SmolLM2 split into three shards: its hub checkpoint is one file, so this covers the index path.
    log = run('--models', SMOLLM2, '--shards', '3');
    log += run('--models', GEMMA, '--vocab', String(GEMMA_VOCAB));
  }, 60_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('reports each model with its files, bytes and seconds', () => {
    expect(log).toMatch(/SmolLM2-135M-Instruct → .*: 2 layers, 20 tensors, 4 weight file\(s\), [\d.]+ MB in [\d.]+ s/);
    expect(log).toMatch(/gemma-3-270m-it → .*: 2 layers, 28 tensors, 1 weight file\(s\)/);
  });

  it('writes the published config cut to two layers, and a generation config', () => {
    const smol = JSON.parse(readFileSync(join(out, 'HuggingFaceTB--SmolLM2-135M-Instruct/config.json'), 'utf8'));
    const known = KNOWN_MODELS.find((m) => m.id === SMOLLM2)!.config;
    expect(smol).toEqual({ ...known, num_hidden_layers: 2 });
    const gemma = JSON.parse(readFileSync(join(out, 'google--gemma-3-270m-it/config.json'), 'utf8'));
    expect(gemma.layer_types).toEqual(['sliding_attention', 'sliding_attention']);
    expect(gemma.vocab_size).toBe(GEMMA_VOCAB);
    expect(gemma.query_pre_attn_scalar).toBe(256);
    expect(JSON.parse(readFileSync(join(out, 'google--gemma-3-270m-it/generation_config.json'), 'utf8'))).toEqual({
      bos_token_id: 2,
      eos_token_id: 1,
      pad_token_id: 0,
    });
  });

  it.each([
    [SMOLLM2, 'HuggingFaceTB--SmolLM2-135M-Instruct'],
    [GEMMA, 'google--gemma-3-270m-it'],
  ])('%s: every tensor the config implies, with its shape, bf16 values and std', (_id, folder) => {
    const dir = join(out, folder);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as HubConfig;
    const want = expected(config);
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));

    const seen = new Map<string, string>();
    for (const file of files) {
      const { header, metadata, data } = readSafetensors(join(dir, file));
      expect(metadata).toEqual({ format: 'pt' });
      let end = 0;
      for (const [name, t] of Object.entries(header)) {
        const w = want.get(name);
        expect(w, `unexpected tensor ${name}`).toBeDefined();
        expect(t.dtype).toBe('BF16');
        expect(t.shape).toEqual(w!.shape);
        // Tensors lie back to back in header order.
        expect(t.data_offsets[0]).toBe(end);
        end = t.data_offsets[1];
        expect(end - t.data_offsets[0]).toBe(2 * t.shape.reduce((a, b) => a * b, 1));
        const values = bf16ToNumbers(data.subarray(t.data_offsets[0], t.data_offsets[1]));
        expect(values.every(Number.isFinite)).toBe(true);
        if (w!.value !== undefined) expect(values.every((v) => v === w!.value)).toBe(true);
        else expect(Math.abs(std(values) / w!.std! - 1), name).toBeLessThan(0.05);
        seen.set(name, file);
      }
      expect(data.length).toBe(end);
    }
    expect([...seen.keys()].sort()).toEqual([...want.keys()].sort());

    if (files.length > 1) {
      expect(files.sort()).toEqual([
        'model-00001-of-00003.safetensors',
        'model-00002-of-00003.safetensors',
        'model-00003-of-00003.safetensors',
      ]);
      const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
      expect(index.weight_map).toEqual(Object.fromEntries(seen));
      const total = [...want.values()].reduce((s, t) => s + 2 * t.shape.reduce((a, b) => a * b, 1), 0);
      expect(index.metadata.total_size).toBe(total);
    } else {
      expect(files).toEqual(['model.safetensors']);
    }
  });

  it('is deterministic in the seed and gives each tensor its own stream', () => {
    const { header, data } = readSafetensors(join(out, 'google--gemma-3-270m-it/model.safetensors'));
    const q0 = header['model.layers.0.self_attn.q_proj.weight'].data_offsets;
    const q1 = header['model.layers.1.self_attn.q_proj.weight'].data_offsets;
    expect(data.subarray(q0[0], q0[0] + 64).equals(data.subarray(q1[0], q1[0] + 64))).toBe(false);
    const again = mkdtempSync(join(tmpdir(), 'ctlab-ckpt-'));
    try {
      execFileSync(process.execPath, [
        SCRIPT,
        '--out',
        again,
        '--layers',
        '1',
        '--seed',
        '7',
        '--models',
        GEMMA,
        '--vocab',
        String(GEMMA_VOCAB),
      ]);
      const other = readSafetensors(join(again, 'google--gemma-3-270m-it/model.safetensors'));
      const o = other.header['model.layers.0.self_attn.q_proj.weight'].data_offsets;
      expect(other.data.subarray(o[0], o[1]).equals(data.subarray(q0[0], q0[1]))).toBe(true);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('pads the tokenizer with placeholders up to the vocabulary, keeping the chat template', () => {
    const smol = JSON.parse(readFileSync(join(out, 'HuggingFaceTB--SmolLM2-135M-Instruct/tokenizer.json'), 'utf8'));
    expect(Object.keys(smol.model.vocab)).toHaveLength(49152);
    const gemma = JSON.parse(readFileSync(join(out, 'google--gemma-3-270m-it/tokenizer.json'), 'utf8'));
    const vocab = gemma.model.vocab as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(GEMMA_VOCAB);
    expect(new Set(Object.values(vocab)).size).toBe(GEMMA_VOCAB);
    expect(Math.max(...Object.values(vocab))).toBe(GEMMA_VOCAB - 1);
    expect(vocab['<|ctlab_pad_49152|>']).toBe(49152);
    const tc = JSON.parse(readFileSync(join(out, 'google--gemma-3-270m-it/tokenizer_config.json'), 'utf8'));
    expect(tc.chat_template).toContain('<|im_start|>');
    expect(tc.vocab_size).toBe(GEMMA_VOCAB);
  });

  it('plans the full-size tensors of every family and the hub sharding', () => {
    type Plan = { id: string; files: Record<string, { name: string; shape: number[] }[]> };
    const plans = JSON.parse(execFileSync(process.execPath, [SCRIPT, '--plan', '--models', 'all'], { encoding: 'utf8' })) as Plan[];
    const byId = new Map(plans.map((p) => [p.id, p]));
    const tensors = (id: string) =>
      new Map(
        Object.values(byId.get(id)!.files)
          .flat()
          .map((t) => [t.name, t.shape]),
      );
    expect(plans).toHaveLength(KNOWN_MODELS.length);

    const qwen25 = tensors('Qwen/Qwen2.5-0.5B-Instruct');
    expect(qwen25.get('model.layers.23.self_attn.q_proj.bias')).toEqual([896]);
    expect(qwen25.get('model.layers.23.self_attn.k_proj.bias')).toEqual([128]);
    expect(qwen25.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(qwen25.has('lm_head.weight')).toBe(false);
    expect(qwen25.size).toBe(1 + 24 * 12 + 1);

    const qwen3 = tensors('Qwen/Qwen3-1.7B');
    expect(qwen3.get('model.layers.27.self_attn.q_norm.weight')).toEqual([128]);
    expect(qwen3.get('model.layers.0.self_attn.q_proj.weight')).toEqual([2048, 2048]);
    expect(qwen3.get('model.layers.0.self_attn.k_proj.weight')).toEqual([1024, 2048]);
    expect(qwen3.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    // Tied, yet on the hub: see lmHeadStored in known-models.json.
    expect(qwen3.get('lm_head.weight')).toEqual([151936, 2048]);
    expect(Object.keys(byId.get('Qwen/Qwen3-1.7B')!.files)).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);

    const llama3b = byId.get('meta-llama/Llama-3.2-3B-Instruct')!;
    expect(Object.keys(llama3b.files)).toHaveLength(2);
    expect(tensors(llama3b.id).get('model.layers.27.self_attn.o_proj.weight')).toEqual([3072, 3072]);
    expect(tensors(llama3b.id).has('lm_head.weight')).toBe(false);

    const gemma1b = tensors('google/gemma-3-1b-it');
    expect(gemma1b.get('model.layers.25.post_feedforward_layernorm.weight')).toEqual([1152]);
    expect(gemma1b.get('model.layers.25.self_attn.k_norm.weight')).toEqual([256]);
    expect(gemma1b.get('model.layers.0.self_attn.q_proj.weight')).toEqual([1024, 1152]);
    expect(gemma1b.has('lm_head.weight')).toBe(false);

    // Every tensor's bytes add up to the catalog's download size.
    for (const m of KNOWN_MODELS) {
      const elements = [...tensors(m.id).values()].reduce((s, shape) => s + shape.reduce((a, b) => a * b, 1), 0);
      expect(2 * elements, m.id).toBe(m.bf16Bytes);
    }
  });

  it('refuses a vocabulary smaller than the tokenizer, and ids outside the vocabulary', () => {
    const run = (vocab: string, model: string) =>
      execFileSync(process.execPath, [SCRIPT, '--out', out, '--layers', '1', '--models', model, '--vocab', vocab], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    expect(() => run('1000', GEMMA)).toThrow(/smaller than the tokenizer's 49152 tokens/);
    expect(() => run('50000', 'Qwen/Qwen3-0.6B')).toThrow(/bos_token_id 151643 is not an id of a 50000-token vocabulary/);
  });
});
