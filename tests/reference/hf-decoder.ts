/**
 * Reference forward pass of Hugging Face decoder-only language models, used as a test oracle.
 *
 * It is deliberately independent of `src/`: it reads the raw `config.json` object itself and follows
 * the published semantics of the transformers modeling code (Llama / Mistral / Qwen2, Qwen3, Gemma 3),
 * so that a mistake in the project's ONNX graph builder cannot be repeated here by sharing code.
 * Everything is accumulated in float64; weights are fp32 in PyTorch layout (Linear weight [out, in]).
 *
 * Supported `model_type`s: `llama`, `mistral`, `qwen2`, `qwen3`, `gemma3_text`, `gemma3` (reads
 * `text_config`). RoPE types: `default`, `linear`, `llama3`, from transformers 4.x `rope_scaling` +
 * `rope_theta` or transformers 5 `rope_parameters` (flat, or nested per layer kind as Gemma 3 has it).
 *
 * `options.disable` turns one feature (or several) off, computing what a graph lacking that feature
 * would compute; tests use it to prove that the tiny checkpoints discriminate (see {@link Feature}).
 */

export type HfConfig = Record<string, unknown>;

/**
 * Features that can be switched off to model a graph builder that forgot them:
 * - `rope-scaling`: full-attention layers use plain RoPE with their base theta (no linear/llama3 scaling).
 * - `qk-norm`: q_norm / k_norm are skipped (Qwen 3, Gemma 3).
 * - `sliding-window`: sliding layers attend causally to everything (their RoPE base is kept).
 * - `local-rope`: sliding layers use the full layers' RoPE (base and scaling) instead of their own.
 * - `gemma-norm`: Gemma norms multiply by w instead of (1 + w).
 * - `embed-scale`: Gemma embeddings are not multiplied by sqrt(hidden_size).
 * - `attn-scale`: Gemma scores use 1/sqrt(head_dim) instead of query_pre_attn_scalar^-0.5.
 */
export type Feature = 'rope-scaling' | 'qk-norm' | 'sliding-window' | 'local-rope' | 'gemma-norm' | 'embed-scale' | 'attn-scale';

export interface ForwardOptions {
  disable?: Feature | readonly Feature[];
}

type LayerKind = 'full_attention' | 'sliding_attention';

interface RopeParams {
  type: 'default' | 'linear' | 'llama3';
  theta: number;
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

interface Arch {
  gemma: boolean;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  layers: number;
  eps: number;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  tied: boolean;
  layerKinds: LayerKind[];
  slidingWindow: number | null;
  invFreq: Record<LayerKind, Float64Array>;
  attnScale: number;
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  act: 'silu' | 'gelu_tanh';
  embedScale: number;
}

function num(config: HfConfig, key: string, fallback?: number): number {
  const v = config[key];
  if (typeof v === 'number') return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new Error(`config.${key} must be a number, got ${JSON.stringify(v)}`);
}

function optNum(config: HfConfig, key: string): number | null {
  const v = config[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw new Error(`config.${key} must be a number or null, got ${JSON.stringify(v)}`);
  return v;
}

function bool(config: HfConfig, key: string, fallback: boolean): boolean {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`config.${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function obj(v: unknown): HfConfig | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as HfConfig) : null;
}

function ropeParams(p: HfConfig | null, theta: number): RopeParams {
  const type = (p?.rope_type ?? p?.type ?? 'default') as string;
  if (type !== 'default' && type !== 'linear' && type !== 'llama3') throw new Error(`unsupported RoPE type ${JSON.stringify(type)}`);
  const get = (key: string): number => (p ? num(p, key) : NaN);
  return {
    type,
    theta,
    factor: type === 'default' ? 1 : get('factor'),
    lowFreqFactor: type === 'llama3' ? get('low_freq_factor') : NaN,
    highFreqFactor: type === 'llama3' ? get('high_freq_factor') : NaN,
    originalMaxPositions: type === 'llama3' ? get('original_max_position_embeddings') : NaN,
  };
}

/** RoPE parameters of one layer kind, from either the transformers 4.x or the transformers 5 layout. */
function resolveRope(config: HfConfig, kind: LayerKind, gemma: boolean): RopeParams {
  const defaultTheta = gemma ? 1e6 : 10000;
  const v5 = obj(config.rope_parameters);
  if (v5) {
    const nested = obj(v5.full_attention) ?? obj(v5.sliding_attention);
    if (nested) {
      const p = obj(v5[kind]);
      if (!p) throw new Error(`rope_parameters has no entry for ${kind}`);
      return ropeParams(p, num(p, 'rope_theta', kind === 'sliding_attention' ? 10000 : defaultTheta));
    }
    if (kind === 'sliding_attention' && gemma) return ropeParams(null, num(config, 'rope_local_base_freq', 10000));
    return ropeParams(v5, num(v5, 'rope_theta', num(config, 'rope_theta', defaultTheta)));
  }
  // Gemma 3's local layers always use an unscaled RoPE with their own base.
  if (kind === 'sliding_attention' && gemma) return ropeParams(null, num(config, 'rope_local_base_freq', 10000));
  return ropeParams(obj(config.rope_scaling), num(config, 'rope_theta', defaultTheta));
}

function invFreqOf(p: RopeParams, dim: number): Float64Array {
  const inv = new Float64Array(dim / 2);
  for (let j = 0; j < dim / 2; j++) {
    const base = 1 / Math.pow(p.theta, (2 * j) / dim);
    if (p.type === 'default') inv[j] = base;
    else if (p.type === 'linear') inv[j] = base / p.factor;
    else {
      const wavelen = (2 * Math.PI) / base;
      const lowFreqWavelen = p.originalMaxPositions / p.lowFreqFactor;
      const highFreqWavelen = p.originalMaxPositions / p.highFreqFactor;
      if (wavelen > lowFreqWavelen) inv[j] = base / p.factor;
      else if (wavelen < highFreqWavelen) inv[j] = base;
      else {
        const smooth = (p.originalMaxPositions / wavelen - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
        inv[j] = ((1 - smooth) * base) / p.factor + smooth * base;
      }
    }
  }
  return inv;
}

/** The text part of the config: Gemma 3 multimodal checkpoints keep it under `text_config`. */
function textConfig(config: HfConfig): HfConfig {
  if (config.model_type !== 'gemma3') return config;
  const text = obj(config.text_config);
  if (!text) throw new Error('gemma3 config has no text_config');
  return text;
}

function disabledSet(options?: ForwardOptions): Set<Feature> {
  const d = options?.disable;
  return new Set(d === undefined ? [] : typeof d === 'string' ? [d] : d);
}

function layerKinds(config: HfConfig, modelType: string, layers: number): { kinds: LayerKind[]; window: number | null } {
  const explicit = config.layer_types;
  const fromList = (): LayerKind[] => {
    if (!Array.isArray(explicit) || explicit.length !== layers) throw new Error('layer_types must list one kind per layer');
    return explicit.map((k) => {
      if (k !== 'full_attention' && k !== 'sliding_attention') throw new Error(`unknown layer type ${JSON.stringify(k)}`);
      return k;
    });
  };
  const allFull = (): LayerKind[] => new Array<LayerKind>(layers).fill('full_attention');
  if (modelType === 'gemma3_text') {
    const kinds = Array.isArray(explicit)
      ? fromList()
      : Array.from({ length: layers }, (_, i): LayerKind => {
          const pattern = num(config, 'sliding_window_pattern', 6);
          return (i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention';
        });
    return { kinds, window: kinds.includes('sliding_attention') ? num(config, 'sliding_window', 4096) : null };
  }
  if (modelType === 'mistral') {
    // MistralConfig defaults to a 4096 window when the key is absent; an explicit null turns it off.
    const window = 'sliding_window' in config ? optNum(config, 'sliding_window') : 4096;
    return { kinds: new Array<LayerKind>(layers).fill(window === null ? 'full_attention' : 'sliding_attention'), window };
  }
  if ((modelType === 'qwen2' || modelType === 'qwen3') && bool(config, 'use_sliding_window', false)) {
    const window = num(config, 'sliding_window', 4096);
    const kinds = Array.isArray(explicit)
      ? fromList()
      : Array.from({ length: layers }, (_, i): LayerKind =>
          i >= num(config, 'max_window_layers') ? 'sliding_attention' : 'full_attention',
        );
    return { kinds, window };
  }
  return { kinds: allFull(), window: null };
}

function parseArch(rawConfig: HfConfig, off: Set<Feature>): Arch {
  const config = textConfig(rawConfig);
  const modelType = rawConfig.model_type === 'gemma3' ? 'gemma3_text' : String(config.model_type ?? rawConfig.model_type);
  if (!['llama', 'mistral', 'qwen2', 'qwen3', 'gemma3_text'].includes(modelType)) throw new Error(`unsupported model_type ${modelType}`);
  const gemma = modelType === 'gemma3_text';
  const hidden = num(config, 'hidden_size');
  const heads = num(config, 'num_attention_heads');
  const kvHeads = num(config, 'num_key_value_heads', heads);
  // Missing head_dim means what the transformers config classes default it to.
  const headDim = num(config, 'head_dim', gemma ? 256 : modelType === 'qwen3' ? 128 : hidden / heads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error(`head_dim ${headDim} must be an even integer`);
  if (heads % kvHeads !== 0) throw new Error('num_attention_heads must be a multiple of num_key_value_heads');
  const prf = optNum(config, 'partial_rotary_factor');
  if (prf !== null && prf !== 1) throw new Error('partial_rotary_factor is not supported by these families');
  const layers = num(config, 'num_hidden_layers');
  const { kinds, window } = layerKinds(config, modelType, layers);

  const actName = String(
    (gemma ? (config.hidden_activation ?? config.hidden_act) : config.hidden_act) ?? (gemma ? 'gelu_pytorch_tanh' : 'silu'),
  );
  let act: Arch['act'];
  if (actName === 'silu' || actName === 'swish') act = 'silu';
  else if (actName === 'gelu_pytorch_tanh' || actName === 'gelu_tanh') act = 'gelu_tanh';
  else throw new Error(`unsupported activation ${actName}`);

  const attentionBias = bool(config, 'attention_bias', false);
  const full = resolveRope(config, 'full_attention', gemma);
  const fullNoScaling: RopeParams = { ...full, type: 'default', factor: 1 };
  const fullUsed = off.has('rope-scaling') ? fullNoScaling : full;
  const sliding = off.has('local-rope') ? fullUsed : resolveRope(config, 'sliding_attention', gemma);

  return {
    gemma,
    hidden,
    heads,
    kvHeads,
    headDim,
    intermediate: num(config, 'intermediate_size'),
    vocab: num(config, 'vocab_size'),
    layers,
    eps: num(config, 'rms_norm_eps', 1e-6),
    // Qwen2 always has q/k/v biases (but none on o_proj); the others follow attention_bias for all four.
    qkvBias: modelType === 'qwen2' || attentionBias,
    oBias: modelType !== 'qwen2' && attentionBias,
    mlpBias: bool(config, 'mlp_bias', false),
    qkNorm: (modelType === 'qwen3' || gemma) && !off.has('qk-norm'),
    tied: bool(config, 'tie_word_embeddings', gemma || bool(rawConfig, 'tie_word_embeddings', false)),
    layerKinds: off.has('sliding-window') ? kinds.map(() => 'full_attention') : kinds,
    slidingWindow: window,
    invFreq: { full_attention: invFreqOf(fullUsed, headDim), sliding_attention: invFreqOf(sliding, headDim) },
    attnScale: gemma && !off.has('attn-scale') ? Math.pow(num(config, 'query_pre_attn_scalar', 256), -0.5) : 1 / Math.sqrt(headDim),
    attnSoftcap: gemma ? optNum(config, 'attn_logit_softcapping') : null,
    finalSoftcap: gemma ? optNum(config, 'final_logit_softcapping') : null,
    act,
    embedScale: gemma && !off.has('embed-scale') ? Math.sqrt(hidden) : 1,
  };
}

/** Gets tensors by their Hugging Face name, accepting the prefixes of Gemma 3 multimodal checkpoints. */
function weightReader(weights: ReadonlyMap<string, Float32Array>) {
  const cache = new Map<string, Float64Array>();
  const candidates = (name: string): string[] => {
    if (name.startsWith('model.')) {
      const rest = name.slice('model.'.length);
      return [name, `model.language_model.${rest}`, `language_model.model.${rest}`];
    }
    if (name === 'lm_head.weight') return [name, 'language_model.lm_head.weight'];
    return [name];
  };
  return (name: string, size: number): Float64Array => {
    const hit = cache.get(name);
    if (hit) return hit;
    for (const candidate of candidates(name)) {
      const w = weights.get(candidate);
      if (!w) continue;
      if (w.length !== size) throw new Error(`${candidate} has ${w.length} elements, expected ${size}`);
      const out = Float64Array.from(w);
      cache.set(name, out);
      return out;
    }
    throw new Error(`missing tensor ${name}`);
  };
}

/** y[S, out] = x[S, in] · Wᵀ + b, W in PyTorch [out, in] layout. */
function linear(x: Float64Array, rows: number, inDim: number, w: Float64Array, outDim: number, b: Float64Array | null): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) acc += x[xo + i] * w[wo + i];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/** RMSNorm over consecutive groups of `dim` values; Gemma scales by (1 + w), the others by w. */
function rmsNorm(x: Float64Array, dim: number, w: Float64Array, eps: number, plusOne: boolean): Float64Array {
  const y = new Float64Array(x.length);
  for (let g = 0; g < x.length; g += dim) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[g + i] * x[g + i];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[g + i] = x[g + i] * inv * (plusOne ? 1 + w[i] : w[i]);
  }
  return y;
}

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** Rotates each head in place with the rotate_half convention: pairs (j, j + d/2). */
function applyRope(x: Float64Array, rows: number, nHeads: number, headDim: number, invFreq: Float64Array): void {
  const half = headDim / 2;
  for (let pos = 0; pos < rows; pos++) {
    for (let h = 0; h < nHeads; h++) {
      const base = (pos * nHeads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = pos * invFreq[j];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x[base + j];
        const b = x[base + j + half];
        x[base + j] = a * c - b * s;
        x[base + j + half] = b * c + a * s;
      }
    }
  }
}

/** RoPE inverse frequencies of one layer kind, exactly as the forward pass uses them (exported for tests). */
export function ropeInvFreq(config: HfConfig, kind: LayerKind = 'full_attention', options?: ForwardOptions): Float64Array {
  const arch = parseArch(config, disabledSet(options));
  return arch.invFreq[kind];
}

/** Logits [S, vocab] of one causal sequence at positions 0..S-1. */
export function hfForward(
  config: HfConfig,
  weights: ReadonlyMap<string, Float32Array>,
  ids: readonly number[],
  options?: ForwardOptions,
): Float32Array {
  return Float32Array.from(hfForward64(config, weights, ids, options));
}

/** {@link hfForward} without the final rounding to fp32, for comparisons tighter than fp32 resolution. */
export function hfForward64(
  config: HfConfig,
  weights: ReadonlyMap<string, Float32Array>,
  ids: readonly number[],
  options?: ForwardOptions,
): Float64Array {
  const off = disabledSet(options);
  const a = parseArch(config, off);
  const get = weightReader(weights);
  const S = ids.length;
  const { hidden: H, heads, kvHeads, headDim: D, intermediate: I, vocab: V, eps } = a;
  const plusOne = a.gemma && !off.has('gemma-norm');
  const norm = (x: Float64Array, name: string, dim = H): Float64Array => rmsNorm(x, dim, get(name, dim), eps, plusOne);

  const embed = get('model.embed_tokens.weight', V * H);
  let x = new Float64Array(S * H);
  for (let t = 0; t < S; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} out of range`);
    for (let i = 0; i < H; i++) x[t * H + i] = embed[id * H + i] * a.embedScale;
  }

  const group = heads / kvHeads;
  for (let l = 0; l < a.layers; l++) {
    const p = `model.layers.${l}.`;
    const kind = a.layerKinds[l];
    const window = kind === 'sliding_attention' ? a.slidingWindow : null;

    const h = norm(x, p + 'input_layernorm.weight');
    const bias = (name: string, n: number, on: boolean): Float64Array | null => (on ? get(p + name, n) : null);
    let q = linear(
      h,
      S,
      H,
      get(p + 'self_attn.q_proj.weight', heads * D * H),
      heads * D,
      bias('self_attn.q_proj.bias', heads * D, a.qkvBias),
    );
    let k = linear(
      h,
      S,
      H,
      get(p + 'self_attn.k_proj.weight', kvHeads * D * H),
      kvHeads * D,
      bias('self_attn.k_proj.bias', kvHeads * D, a.qkvBias),
    );
    const v = linear(
      h,
      S,
      H,
      get(p + 'self_attn.v_proj.weight', kvHeads * D * H),
      kvHeads * D,
      bias('self_attn.v_proj.bias', kvHeads * D, a.qkvBias),
    );
    if (a.qkNorm) {
      q = norm(q, p + 'self_attn.q_norm.weight', D);
      k = norm(k, p + 'self_attn.k_norm.weight', D);
    }
    applyRope(q, S, heads, D, a.invFreq[kind]);
    applyRope(k, S, kvHeads, D, a.invFreq[kind]);

    const ctx = new Float64Array(S * heads * D);
    const scores = new Float64Array(S);
    for (let hd = 0; hd < heads; hd++) {
      const kvh = Math.floor(hd / group);
      for (let i = 0; i < S; i++) {
        const qo = (i * heads + hd) * D;
        const first = window === null ? 0 : Math.max(0, i - window + 1);
        let max = -Infinity;
        for (let j = first; j <= i; j++) {
          const ko = (j * kvHeads + kvh) * D;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qo + d] * k[ko + d];
          s *= a.attnScale;
          if (a.attnSoftcap !== null) s = a.attnSoftcap * Math.tanh(s / a.attnSoftcap);
          scores[j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = first; j <= i; j++) {
          scores[j] = Math.exp(scores[j] - max);
          sum += scores[j];
        }
        for (let j = first; j <= i; j++) {
          const pj = scores[j] / sum;
          const vo = (j * kvHeads + kvh) * D;
          for (let d = 0; d < D; d++) ctx[qo + d] += pj * v[vo + d];
        }
      }
    }
    let attn = linear(ctx, S, heads * D, get(p + 'self_attn.o_proj.weight', H * heads * D), H, bias('self_attn.o_proj.bias', H, a.oBias));
    if (a.gemma) attn = norm(attn, p + 'post_attention_layernorm.weight');
    for (let i = 0; i < x.length; i++) x[i] += attn[i];

    const h2 = norm(x, p + (a.gemma ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight'));
    const gate = linear(h2, S, H, get(p + 'mlp.gate_proj.weight', I * H), I, bias('mlp.gate_proj.bias', I, a.mlpBias));
    const up = linear(h2, S, H, get(p + 'mlp.up_proj.weight', I * H), I, bias('mlp.up_proj.bias', I, a.mlpBias));
    for (let i = 0; i < gate.length; i++) gate[i] = (a.act === 'silu' ? silu(gate[i]) : geluTanh(gate[i])) * up[i];
    let mlp = linear(gate, S, I, get(p + 'mlp.down_proj.weight', H * I), H, bias('mlp.down_proj.bias', H, a.mlpBias));
    if (a.gemma) mlp = norm(mlp, p + 'post_feedforward_layernorm.weight');
    const next = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) next[i] = x[i] + mlp[i];
    x = next;
  }

  const final = norm(x, 'model.norm.weight');
  const head = a.tied ? embed : get('lm_head.weight', V * H);
  const logits = linear(final, S, H, head, V, null);
  if (a.finalSoftcap !== null) for (let i = 0; i < logits.length; i++) logits[i] = a.finalSoftcap * Math.tanh(logits[i] / a.finalSoftcap);
  return logits;
}

/** Mean next-token negative log-likelihood (nats) of ids[1..] under logits [S, vocab]. */
export function meanNll(logits: Float32Array | Float64Array, ids: readonly number[], vocab: number): number {
  if (ids.length < 2) throw new Error('need at least two tokens');
  if (logits.length < (ids.length - 1) * vocab) throw new Error('logits are shorter than the sequence');
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = t * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, logits[row + i]);
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(logits[row + i] - max);
    total += max + Math.log(sum) - logits[row + ids[t + 1]];
  }
  return total / (ids.length - 1);
}
