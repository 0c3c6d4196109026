import { parseModelSpec } from './config';
import catalog from './known-models.json' with { type: 'json' };
import { expectedTensors } from './weights';

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
  /** The architecture family's id (`ModelSpec.modelType`). */
  family: string;
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

/** Head width: Qwen3, Gemma 3 and Llama 3.2 state it, older configs imply hidden / heads. */
export function headDimOf(config: HubConfig): number {
  return config.head_dim ?? config.hidden_size / config.num_attention_heads;
}

/** Parameters implied by a config: the tensors its family's checkpoint holds (tied embeddings once). */
export function parameterCountFromConfig(config: HubConfig): number {
  let n = 0;
  for (const shape of expectedTensors(parseModelSpec(config)).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
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
  const spec = parseModelSpec(m.config, `${m.id}/config.json`);
  const params = parameterCountFromConfig(m.config);
  const lmHeadStored = m.lmHeadStored === true && spec.tiedEmbeddings;
  const stored = params + (lmHeadStored ? m.config.vocab_size * m.config.hidden_size : 0);
  return {
    id: m.id,
    label: m.label,
    family: spec.modelType,
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
