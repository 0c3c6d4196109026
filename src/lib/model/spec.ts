/** The Llama-family architectures this project builds graphs for and compresses. */
export type ModelType = 'llama' | 'mistral' | 'qwen2';

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
  ropeTheta: number;
  rmsNormEps: number;
  tiedEmbeddings: boolean;
  /** Qwen2 puts a bias on the q, k and v projections. */
  qkvBias: boolean;
  maxPositions: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The dtype the checkpoint declares (`torch_dtype`), informational. */
  torchDtype: string | null;
}

/** The seven linear layers of a decoder block, in Hugging Face naming. */
export const BLOCK_LINEARS = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
] as const;
export type BlockLinear = (typeof BLOCK_LINEARS)[number];
