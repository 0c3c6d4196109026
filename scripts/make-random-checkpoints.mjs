#!/usr/bin/env node
// @ts-check
// Random-weight checkpoints of real shapes, for testing downloads, loaders, graph building and
// compression at the true sizes of the models people bring, without downloading them.
//
// What is real and what is not, per model of src/lib/model/known-models.json:
//   - config.json: the published config (num_hidden_layers, and Gemma's layer_types, cut when
//     --layers is given; vocab_size replaced when --vocab is given).
//   - weights: RANDOM. bf16 safetensors whose tensor names and shapes are the Hugging Face ones,
//     sharded into as many model-0000k-of-0000N.safetensors files as the hub has (the split is
//     balanced by bytes, whole tensors; the hub cuts at a maximum shard size, so which tensor
//     lands in which shard can differ), with model.safetensors.index.json.
//   - tokenizer: SmolLM2's (the only one available offline), its BPE vocab padded with
//     placeholder tokens up to the config's vocab_size so every id decodes, with SmolLM2's chat
//     template. The config's bos/eos ids are kept, so they name unrelated tokens here.
//   - generation_config.json: the config's bos/eos/pad ids only.
//
// Weights are deterministic in --seed and the tensor name: linears std 1/sqrt(fan_in), embeddings
// std 1 (Gemma 1/sqrt(hidden), as it scales them up by sqrt(hidden)), biases std 0.02, RMSNorm
// weights 1 (Gemma 0: it multiplies by 1 + w). A tied lm_head that the hub stores anyway (Qwen3)
// is written equal to the embedding.
//
// Plain Node 20, no dependencies: it streams tensor by tensor through one reused buffer.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CATALOG = join(root, 'src/lib/model/known-models.json');
const DEFAULT_TOKENIZER = resolve(root, '../shared/models/smollm2-135m-instruct-tokenizer');

const USAGE = `Usage: node scripts/make-random-checkpoints.mjs --out DIR [--models id,id|all] [--layers N] [--seed S]
                  [--tokenizer DIR]
  Writes DIR/<org>--<name>/ per model: the real config.json and hub sharding, random bf16 weights,
  SmolLM2's tokenizer padded to the model's vocabulary.
  --plan prints each model's tensors (name, shape) per weight file as JSON and writes nothing.
  Test-only overrides: --vocab N (vocab_size), --shards N (shard count).`;

/** @typedef {{ id: string, label: string, shards: number, lmHeadStored?: boolean, config: Record<string, any> }} CatalogModel */
/** @typedef {{ name: string, shape: number[], init: Init }} TensorPlan */
/** @typedef {{ kind: 'random', std: number, seedName: string } | { kind: 'const', value: number }} Init */

class UsageError extends Error {}

function parseCli() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      models: { type: 'string', default: 'all' },
      layers: { type: 'string' },
      seed: { type: 'string', default: '0' },
      tokenizer: { type: 'string', default: DEFAULT_TOKENIZER },
      vocab: { type: 'string' },
      shards: { type: 'string' },
      plan: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.out && !values.plan) throw new UsageError('--out DIR is required');
  const positive = (/** @type {string | undefined} */ v, /** @type {string} */ flag) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a positive integer, not "${v}"`);
    return n;
  };
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed takes a non-negative integer, not "${values.seed}"`);
  return {
    out: resolve(values.out ?? '.'),
    plan: values.plan,
    models: values.models,
    layers: positive(values.layers, '--layers'),
    seed,
    tokenizer: resolve(values.tokenizer),
    vocab: positive(values.vocab, '--vocab'),
    shards: positive(values.shards, '--shards'),
  };
}

/** @param {string} selection @returns {CatalogModel[]} */
function selectModels(selection) {
  /** @type {CatalogModel[]} */
  const all = JSON.parse(readFileSync(CATALOG, 'utf8')).models;
  if (selection === 'all') return all;
  return selection.split(',').map((id) => {
    const m = all.find((k) => k.id === id.trim());
    if (!m) throw new UsageError(`"${id}" is not in known-models.json (known: ${all.map((k) => k.id).join(', ')})`);
    return m;
  });
}

/**
 * The config the checkpoint is written for: the published one with the requested cuts.
 * @param {CatalogModel} model @param {{ layers?: number, vocab?: number }} opts
 */
function effectiveConfig(model, opts) {
  const config = structuredClone(model.config);
  if (opts.layers !== undefined) {
    if (opts.layers > config.num_hidden_layers) {
      throw new UsageError(`--layers ${opts.layers} exceeds ${model.id}'s ${config.num_hidden_layers} layers`);
    }
    config.num_hidden_layers = opts.layers;
    if (Array.isArray(config.layer_types)) config.layer_types = config.layer_types.slice(0, opts.layers);
  }
  if (opts.vocab !== undefined) config.vocab_size = opts.vocab;
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
    for (const id of [config[key]].flat()) {
      if (typeof id === 'number' && id >= config.vocab_size) {
        throw new UsageError(`${model.id}: ${key} ${id} is not an id of a ${config.vocab_size}-token vocabulary`);
      }
    }
  }
  return config;
}

/**
 * Tensor names and shapes as the Hugging Face classes save them, in module order.
 * @param {Record<string, any>} c @param {boolean} lmHeadStored @returns {TensorPlan[]}
 */
function tensorPlan(c, lmHeadStored) {
  const type = c.model_type;
  const gemma = type === 'gemma3_text';
  const qkNorm = gemma || type === 'qwen3';
  const h = c.hidden_size;
  const inter = c.intermediate_size;
  const d = c.head_dim ?? h / c.num_attention_heads;
  const q = c.num_attention_heads * d;
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * d;
  const tied = c.tie_word_embeddings ?? gemma;
  const qkvBias = type === 'qwen2' || c.attention_bias === true;
  const oBias = type !== 'qwen2' && c.attention_bias === true;
  const norm = /** @type {Init} */ ({ kind: 'const', value: gemma ? 0 : 1 });

  /** @type {TensorPlan[]} */
  const plan = [];
  const linear = (/** @type {string} */ name, /** @type {number} */ out, /** @type {number} */ fanIn) =>
    plan.push({ name, shape: [out, fanIn], init: { kind: 'random', std: 1 / Math.sqrt(fanIn), seedName: name } });
  const vector = (/** @type {string} */ name, /** @type {number} */ n, /** @type {Init} */ init) => plan.push({ name, shape: [n], init });
  const bias = (/** @type {string} */ name, /** @type {number} */ n) => vector(name, n, { kind: 'random', std: 0.02, seedName: name });

  const embedStd = gemma ? 1 / Math.sqrt(h) : 1;
  plan.push({
    name: 'model.embed_tokens.weight',
    shape: [c.vocab_size, h],
    init: { kind: 'random', std: embedStd, seedName: 'model.embed_tokens.weight' },
  });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    vector(`${p}input_layernorm.weight`, h, norm);
    linear(`${p}self_attn.q_proj.weight`, q, h);
    if (qkvBias) bias(`${p}self_attn.q_proj.bias`, q);
    linear(`${p}self_attn.k_proj.weight`, kv, h);
    if (qkvBias) bias(`${p}self_attn.k_proj.bias`, kv);
    linear(`${p}self_attn.v_proj.weight`, kv, h);
    if (qkvBias) bias(`${p}self_attn.v_proj.bias`, kv);
    linear(`${p}self_attn.o_proj.weight`, h, q);
    if (oBias) bias(`${p}self_attn.o_proj.bias`, h);
    if (qkNorm) {
      vector(`${p}self_attn.q_norm.weight`, d, norm);
      vector(`${p}self_attn.k_norm.weight`, d, norm);
    }
    vector(`${p}post_attention_layernorm.weight`, h, norm);
    if (gemma) vector(`${p}pre_feedforward_layernorm.weight`, h, norm);
    linear(`${p}mlp.gate_proj.weight`, inter, h);
    linear(`${p}mlp.up_proj.weight`, inter, h);
    linear(`${p}mlp.down_proj.weight`, h, inter);
    if (gemma) vector(`${p}post_feedforward_layernorm.weight`, h, norm);
  }
  vector('model.norm.weight', h, norm);
  if (!tied) linear('lm_head.weight', c.vocab_size, h);
  // A stored copy of a tied head holds the embedding's values, as the hub's files do.
  else if (lmHeadStored) plan.push({ name: 'lm_head.weight', shape: [c.vocab_size, h], init: plan[0].init });
  return plan;
}

const bytesOf = (/** @type {TensorPlan} */ t) => 2 * t.shape.reduce((a, b) => a * b, 1);

/**
 * Splits whole tensors into `n` shards of about equal bytes, none empty: a tensor joins the
 * current shard while at least half of it fits under that shard's share.
 * @param {TensorPlan[]} plan @param {number} n @returns {TensorPlan[][]}
 */
function splitShards(plan, n) {
  if (n > plan.length) throw new UsageError(`cannot split ${plan.length} tensors into ${n} shards`);
  /** @type {TensorPlan[][]} */
  const shards = [[]];
  let remaining = plan.reduce((s, t) => s + bytesOf(t), 0);
  let target = remaining / n;
  let filled = 0;
  plan.forEach((t, i) => {
    const shardsLeft = n - shards.length;
    const tensorsLeft = plan.length - i;
    const current = shards[shards.length - 1];
    if (current.length > 0 && shardsLeft > 0 && (filled + bytesOf(t) / 2 > target || tensorsLeft <= shardsLeft)) {
      remaining -= filled;
      // Rebalance what is left over the shards that are left, so a big first tensor doesn't starve the last shard.
      target = remaining / (shardsLeft + 1);
      filled = 0;
      shards.push([]);
    }
    shards[shards.length - 1].push(t);
    filled += bytesOf(t);
  });
  return shards;
}

/** FNV-1a: a seed per tensor from the run's seed and the tensor's name. */
function seedFor(/** @type {number} */ seed, /** @type {string} */ name) {
  let x = 0x811c9dc5;
  for (const ch of `${seed}:${name}`) x = Math.imul(x ^ ch.charCodeAt(0), 0x01000193);
  return x >>> 0 || 1;
}

/** bf16 of a float: the top half of its fp32 bits, rounded to nearest even. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bf16(/** @type {number} */ v) {
  f32[0] = v;
  const bits = u32[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

// Each value is the sum of the four bytes of one xorshift32 draw (Irwin–Hall, close to normal):
// 1021 possible sums, so a per-tensor table of their bf16 values turns generation into lookups.
const BYTE_SUM_MEAN = 510;
const BYTE_SUM_STD = Math.sqrt((4 * (256 * 256 - 1)) / 12);
const CHUNK = 1 << 22;
const chunk = new Uint16Array(CHUNK);
const chunkBytes = new Uint8Array(chunk.buffer);

/** Streams one tensor's bf16 data to `fd`. @param {number} fd @param {TensorPlan} t @param {number} seed */
function writeTensor(fd, t, seed) {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const init = t.init;
  if (init.kind === 'const') {
    chunk.fill(bf16(init.value), 0, Math.min(count, CHUNK));
    for (let done = 0; done < count; done += CHUNK) writeSync(fd, chunkBytes, 0, 2 * Math.min(CHUNK, count - done));
    return;
  }
  const table = new Uint16Array(4 * 255 + 1);
  for (let s = 0; s < table.length; s++) table[s] = bf16(((s - BYTE_SUM_MEAN) / BYTE_SUM_STD) * init.std);
  let x = seedFor(seed, init.seedName);
  for (let done = 0; done < count; done += CHUNK) {
    const n = Math.min(CHUNK, count - done);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // Mix before splitting into bytes: xorshift's raw bytes are correlated with each other.
      const y = Math.imul(x, 0x9e3779b1);
      chunk[i] = table[(y & 255) + ((y >>> 8) & 255) + ((y >>> 16) & 255) + (y >>> 24)];
    }
    writeSync(fd, chunkBytes, 0, 2 * n);
  }
}

/** Writes one safetensors file; returns its size. @param {string} path @param {TensorPlan[]} tensors @param {number} seed */
function writeSafetensors(path, tensors, seed) {
  /** @type {Record<string, unknown>} */
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytesOf(t)] };
    offset += bytesOf(t);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    for (const t of tensors) writeTensor(fd, t, seed);
  } finally {
    closeSync(fd);
  }
  return head.length + offset;
}

/**
 * SmolLM2's tokenizer with placeholder tokens appended to its BPE vocab up to `vocabSize`.
 * @param {string} dir @param {string} out @param {number} vocabSize
 */
function writeTokenizer(dir, out, vocabSize) {
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UsageError(`no tokenizer.json in ${dir} (--tokenizer DIR)`);
  const tokenizer = JSON.parse(readFileSync(tokenizerPath, 'utf8'));
  const vocab = tokenizer.model?.vocab;
  if (tokenizer.model?.type !== 'BPE' || typeof vocab !== 'object') throw new UsageError(`${tokenizerPath} is not a BPE tokenizer`);
  const base = Object.keys(vocab).length;
  if (vocabSize < base) {
    throw new UsageError(
      `the model's vocab_size ${vocabSize} is smaller than the tokenizer's ${base} tokens; a padded copy cannot shrink it`,
    );
  }
  // Copied by content: the source may be read-only and its mode must not stop a rerun.
  if (vocabSize === base) writeFileSync(join(out, 'tokenizer.json'), readFileSync(tokenizerPath));
  else {
    // Placeholders live in the BPE vocab only: no text encodes to them, but every id the model emits decodes.
    for (let id = base; id < vocabSize; id++) vocab[`<|ctlab_pad_${id}|>`] = id;
    writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokenizer));
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : {};
  if ('vocab_size' in tokenizerConfig) tokenizerConfig.vocab_size = vocabSize;
  writeFileSync(join(out, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
}

const shardName = (/** @type {number} */ k, /** @type {number} */ n) =>
  `model-${String(k).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

const formatBytes = (/** @type {number} */ n) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;

/**
 * @param {CatalogModel} model
 * @param {{ out: string, layers?: number, seed: number, tokenizer: string, vocab?: number, shards?: number }} opts
 */
function makeCheckpoint(model, opts) {
  const started = performance.now();
  const config = effectiveConfig(model, opts);
  const dir = join(opts.out, model.id.replace('/', '--'));
  mkdirSync(dir, { recursive: true });
  const json = (/** @type {string} */ name, /** @type {unknown} */ value) =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);

  json('config.json', config);
  /** @type {Record<string, unknown>} */
  const generation = {};
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'])
    if (config[key] !== undefined && config[key] !== null) generation[key] = config[key];
  json('generation_config.json', generation);
  writeTokenizer(opts.tokenizer, dir, config.vocab_size);
  json('ctlab-random.json', {
    note: "Random weights: config and sharding as published for the model, tokenizer SmolLM2-135M-Instruct's padded to vocab_size.",
    model: model.id,
    seed: opts.seed,
    layers: config.num_hidden_layers,
    publishedLayers: model.config.num_hidden_layers,
    vocabSize: config.vocab_size,
  });

  const plan = tensorPlan(config, model.lmHeadStored === true);
  const n = opts.shards ?? model.shards;
  let bytes = 0;
  const files = [];
  if (n === 1) {
    bytes += writeSafetensors(join(dir, 'model.safetensors'), plan, opts.seed);
    files.push('model.safetensors');
  } else {
    /** @type {Record<string, string>} */
    const weightMap = {};
    splitShards(plan, n).forEach((tensors, k) => {
      const name = shardName(k + 1, n);
      bytes += writeSafetensors(join(dir, name), tensors, opts.seed);
      for (const t of tensors) weightMap[t.name] = name;
      files.push(name);
      console.log(`  ${name}: ${tensors.length} tensors`);
    });
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    json('model.safetensors.index.json', { metadata: { total_size: plan.reduce((s, t) => s + bytesOf(t), 0) }, weight_map: sorted });
    files.push('model.safetensors.index.json');
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${model.id} → ${dir}: ${config.num_hidden_layers} layers, ${plan.length} tensors, ${files.length} weight file(s), ` +
      `${formatBytes(bytes)} in ${seconds.toFixed(1)} s`,
  );
  return { id: model.id, dir, bytes, seconds, tensors: plan.length, files };
}

/** The files and tensors a run would write, without writing them. @param {CatalogModel} model @param {{ layers?: number, vocab?: number, shards?: number }} opts */
function describePlan(model, opts) {
  const config = effectiveConfig(model, opts);
  const plan = tensorPlan(config, model.lmHeadStored === true);
  const n = opts.shards ?? model.shards;
  const groups = n === 1 ? [plan] : splitShards(plan, n);
  return {
    id: model.id,
    files: Object.fromEntries(
      groups.map((g, k) => [n === 1 ? 'model.safetensors' : shardName(k + 1, n), g.map((t) => ({ name: t.name, shape: t.shape }))]),
    ),
  };
}

function main() {
  const opts = parseCli();
  const models = selectModels(opts.models);
  if (opts.plan) {
    console.log(JSON.stringify(models.map((m) => describePlan(m, opts))));
    return;
  }
  mkdirSync(opts.out, { recursive: true });
  const results = models.map((m) => makeCheckpoint(m, opts));
  const bytes = results.reduce((s, r) => s + r.bytes, 0);
  const seconds = results.reduce((s, r) => s + r.seconds, 0);
  console.log(
    `\n${results.length} checkpoint(s), ${formatBytes(bytes)} of weights in ${seconds.toFixed(1)} s (random weights; configs and sharding as published):`,
  );
  for (const r of results) console.log(`  ${r.id.padEnd(36)} ${formatBytes(r.bytes).padStart(9)}  ${r.seconds.toFixed(1).padStart(6)} s`);
}

try {
  main();
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`make-random-checkpoints: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  throw err;
}
