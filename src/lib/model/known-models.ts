import catalog from './known-models.json';

/** The decoder families among the known models; each differs in which tensors a layer holds. */
export type ModelFamily = 'llama' | 'qwen2' | 'qwen3' | 'gemma3';

/** The fields of a Hugging Face `config.json` that decide tensor shapes; the rest pass through. */
export interface HubConfig {
  model_type: string;
  architectures?: string[];
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  [key: string]: unknown;
}

export interface KnownModel {
  /** Hugging Face repo id, `org/name`. */
  id: string;
  label: string;
  family: ModelFamily;
  /** The repo's `config.json` as published. */
  config: HubConfig;
  /** Number of `model-0000k-of-0000N.safetensors` files on the hub; 1 means a single `model.safetensors`. */
  shards: number;
  /** Parameter count implied by the config (tied embeddings counted once). */
  params: number;
  /** Size of the hub's weight files in bf16 (tensor data; headers are a few kB). */
  bf16Bytes: number;
  /** The hub's weights carry `lm_head.weight` although the config ties it (Qwen3 does). */
  lmHeadStored: boolean;
  /** Where a catalog value is uncertain. */
  note?: string;
}

const FAMILY_OF_MODEL_TYPE: Record<string, ModelFamily> = {
  llama: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  gemma3_text: 'gemma3',
};

export function familyOf(config: HubConfig): ModelFamily {
  const family = FAMILY_OF_MODEL_TYPE[config.model_type];
  if (!family) throw new Error(`No known decoder family for model_type "${config.model_type}"`);
  return family;
}

/** Head width: Qwen3, Gemma 3 and Llama 3.2 state it, older configs imply hidden / heads. */
export function headDimOf(config: HubConfig): number {
  return config.head_dim ?? config.hidden_size / config.num_attention_heads;
}

/**
 * Whether lm_head shares the embedding matrix. Gemma 3's configs omit the key because its
 * config class defaults to tying; the other classes default to separate heads.
 */
export function tiedEmbeddings(config: HubConfig): boolean {
  return config.tie_word_embeddings ?? familyOf(config) === 'gemma3';
}

/** Parameters implied by a config, matching the tensors a Hugging Face checkpoint of it holds. */
export function parameterCountFromConfig(config: HubConfig): number {
  const family = familyOf(config);
  const h = config.hidden_size;
  const d = headDimOf(config);
  const q = config.num_attention_heads * d;
  const kv = (config.num_key_value_heads ?? config.num_attention_heads) * d;

  let attention = h * q + 2 * h * kv + q * h;
  // Qwen2 always biases q/k/v (its config has no switch); the others only when attention_bias says so.
  if (family === 'qwen2') attention += q + 2 * kv;
  else if (config.attention_bias) attention += q + 2 * kv + h;

  const mlp = 3 * h * config.intermediate_size;
  // Gemma 3 norms around both sublayers on each side; Qwen3 and Gemma 3 also norm q and k per head.
  const norms = (family === 'gemma3' ? 4 * h : 2 * h) + (family === 'qwen3' || family === 'gemma3' ? 2 * d : 0);

  const embedding = config.vocab_size * h;
  const head = tiedEmbeddings(config) ? 0 : config.vocab_size * h;
  return embedding + config.num_hidden_layers * (attention + mlp + norms) + h + head;
}

interface CatalogEntry {
  id: string;
  label: string;
  shards: number;
  lmHeadStored?: boolean;
  note?: string;
  config: HubConfig;
}

export const KNOWN_MODELS: KnownModel[] = (catalog.models as CatalogEntry[]).map((m) => {
  const params = parameterCountFromConfig(m.config);
  const lmHeadStored = m.lmHeadStored === true && tiedEmbeddings(m.config);
  const stored = params + (lmHeadStored ? m.config.vocab_size * m.config.hidden_size : 0);
  return {
    id: m.id,
    label: m.label,
    family: familyOf(m.config),
    config: m.config,
    shards: m.shards,
    params,
    bf16Bytes: 2 * stored,
    lmHeadStored,
    ...(m.note ? { note: m.note } : {}),
  };
});

/** `135M`, `1.24B`: how model cards round parameter counts. */
export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  return `${Math.round(n / 1e6)}M`;
}
