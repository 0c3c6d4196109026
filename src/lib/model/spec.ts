/** A registered architecture family's id (`llama`, `qwen2`, `qwen3`, `gemma3`, …): see `architectures/`. */
export type ModelType = string;

/** RoPE frequency scaling; `null` in `RopeSpec.scaling` is plain RoPE. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface RopeSpec {
  theta: number;
  scaling: RopeScaling | null;
}

/** Full causal attention, or attention to the last `slidingWindow` positions only. */
export type LayerKind = 'full' | 'sliding';

/** The norms of a decoder layer, by tensor name under `model.layers.{i}.` (without `.weight`). */
export interface BlockNorms {
  /** Feeds q/k/v. */
  attnIn: string;
  /** Normalises the attention output before the residual add (Gemma's sandwich norm), or none. */
  attnOut: string | null;
  /** Feeds gate/up. */
  mlpIn: string;
  /** Normalises the MLP output before the residual add, or none. */
  mlpOut: string | null;
}

/** How a family's decoder block departs from Llama's; each family module fills it from its config. */
export interface BlockSpec {
  norms: BlockNorms;
  /** RMSNorm multiplies by `normOffset + w`: 0 for Llama, 1 for Gemma. */
  normOffset: 0 | 1;
  /** Per-head RMSNorm `self_attn.q_norm` / `k_norm` ([head_dim]) on q and k before RoPE. */
  qkNorm: boolean;
  /** The gated MLP's activation: SiLU (SwiGLU) or GELU with the tanh approximation (GeGLU). */
  activation: 'silu' | 'gelu_tanh';
  /** Multiplies the token embeddings (Gemma: √hidden). */
  embedScale: number;
  /** Multiplies q·k: 1/√head_dim, or Gemma's query_pre_attn_scalar^-½. */
  attnScale: number;
  /** cap·tanh(x/cap) on attention scores / final logits, when set. */
  attnSoftcap: number | null;
  finalSoftcap: number | null;
}

/** Everything about a checkpoint's shape that the graph builder and compressors need. */
export interface ModelSpec {
  modelType: ModelType;
  architecture: string;
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  /** RoPE of full-attention layers. */
  rope: RopeSpec;
  /** RoPE of sliding-window layers when it differs (Gemma's local base), else null. */
  localRope: RopeSpec | null;
  /** One entry per layer. */
  layerKinds: LayerKind[];
  /** How many positions a sliding layer's query sees (itself included); null without sliding layers. */
  slidingWindow: number | null;
  rmsNormEps: number;
  tiedEmbeddings: boolean;
  /** Qwen2 puts a bias on the q, k and v projections. */
  qkvBias: boolean;
  block: BlockSpec;
  maxPositions: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The dtype the checkpoint declares (`torch_dtype`), informational. */
  torchDtype: string | null;
}

/** The prefix of decoder layer `i`'s tensors in a checkpoint (layer tensors are keyed without it). */
export function layerPrefix(i: number): string {
  return `model.layers.${i}.`;
}

/** The token embedding, whose rows are the layer-0 inputs. */
export const EMBED_TOKENS_WEIGHT = 'model.embed_tokens.weight';

/** The seven linear layers of a decoder block: short id (as reports name them) → module in Hugging Face naming. */
const LINEAR_MODULES = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
} as const;
export type LinearId = keyof typeof LINEAR_MODULES;
export type BlockLinear = (typeof LINEAR_MODULES)[LinearId];

/** The seven linears by short id, in block order. */
export const LINEAR_IDS = Object.keys(LINEAR_MODULES) as readonly LinearId[];

/** The seven linears by module name, in block order. */
export const BLOCK_LINEARS: readonly BlockLinear[] = LINEAR_IDS.map((l) => LINEAR_MODULES[l]);

/** A linear's module name under `model.layers.{i}.` (`self_attn.q_proj`). */
export function linearModule(l: LinearId): BlockLinear {
  return LINEAR_MODULES[l];
}

/** A linear's weight, keyed as a layer tensor (`self_attn.q_proj.weight`). */
export function linearWeightName(l: LinearId): string {
  return `${LINEAR_MODULES[l]}.weight`;
}

/** A linear's bias, keyed as a layer tensor (only q/k/v carry one, when `qkvBias`). */
export function linearBiasName(l: LinearId): string {
  return `${LINEAR_MODULES[l]}.bias`;
}

/** A norm's weight, keyed as a layer tensor (`input_layernorm.weight`). */
export function normWeightName(norm: string): string {
  return `${norm}.weight`;
}

/** The block activations that enter its linears (q/k/v share one, gate/up another). */
export const BLOCK_TAPS = ['q_proj_in', 'o_proj_in', 'gate_proj_in', 'down_proj_in'] as const;
export type BlockTap = (typeof BLOCK_TAPS)[number];

/** Columns of a tap's activations. */
export function tapWidth(spec: ModelSpec, tap: BlockTap): number {
  return tap === 'o_proj_in' ? spec.numHeads * spec.headDim : tap === 'down_proj_in' ? spec.intermediateSize : spec.hiddenSize;
}

/** Llama's block: what every family starts from. */
export function llamaBlock(headDim: number): BlockSpec {
  return {
    norms: { attnIn: 'input_layernorm', attnOut: null, mlpIn: 'post_attention_layernorm', mlpOut: null },
    normOffset: 0,
    qkNorm: false,
    activation: 'silu',
    embedScale: 1,
    attnScale: 1 / Math.sqrt(headDim),
    attnSoftcap: null,
    finalSoftcap: null,
  };
}

/** The RoPE a layer uses. */
export function layerRope(spec: ModelSpec, layer: number): RopeSpec {
  return spec.layerKinds[layer] === 'sliding' && spec.localRope ? spec.localRope : spec.rope;
}

/** The norm tensors of one layer (names under `model.layers.{i}.`, with `.weight`). */
export function layerNormNames(spec: ModelSpec): string[] {
  const { norms, qkNorm } = spec.block;
  const names = [norms.attnIn, norms.attnOut, norms.mlpIn, norms.mlpOut].filter((n): n is string => n !== null);
  if (qkNorm) names.push('self_attn.q_norm', 'self_attn.k_norm');
  return [...new Set(names)].map(normWeightName);
}
