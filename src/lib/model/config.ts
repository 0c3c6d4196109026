import type { ModelSpec, ModelType } from './spec';

/** A config.json (or a checkpoint) that is malformed or inconsistent. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** A well-formed config for an architecture this project does not build or compress. */
export class UnsupportedModelError extends ModelConfigError {
  override name = 'UnsupportedModelError';
}

const SUPPORTED: Record<ModelType, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};
const SUPPORTED_ARCHITECTURES = new Set(Object.values(SUPPORTED));
const SUPPORT_NOTE = 'Compressed Trust Lab supports llama, mistral, qwen2 (Llama-family decoders).';

/**
 * Hugging Face's class defaults for fields a config may omit. Checkpoints written by
 * `save_pretrained` carry every field, but hand-written or older configs lean on these.
 */
const DEFAULT_MAX_POSITIONS: Record<ModelType, number> = {
  llama: 2048,
  mistral: 4096 * 32,
  qwen2: 32768,
};

/** `rope_type`s that mean plain RoPE, i.e. no scaling for us to implement. */
const PLAIN_ROPE = new Set(['default']);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

function isSupportedType(t: unknown): t is ModelType {
  return typeof t === 'string' && Object.hasOwn(SUPPORTED, t);
}

/**
 * Reads the Llama-family fields of a Hugging Face `config.json` into a `ModelSpec`, refusing
 * anything we would otherwise run with silently wrong numerics (other architectures, RoPE
 * scaling we don't implement, inconsistent head counts).
 */
export function parseModelSpec(config: unknown, source = 'config.json'): ModelSpec {
  if (!isObject(config)) {
    throw new ModelConfigError(`${source}: expected a JSON object, got ${Array.isArray(config) ? 'an array' : show(config)}`);
  }
  const c = config;

  const architectures = Array.isArray(c.architectures) ? c.architectures.filter((a): a is string => typeof a === 'string') : [];
  const archList = architectures.length > 0 ? architectures.join(', ') : 'none listed';

  const modelType = c.model_type;
  if (!isSupportedType(modelType)) {
    const what = modelType === undefined || modelType === null ? 'Missing model_type' : `Unsupported model_type ${show(modelType)}`;
    throw new UnsupportedModelError(`${source}: ${what} (architectures: ${archList}). ${SUPPORT_NOTE}`);
  }
  if (c.architectures !== undefined && c.architectures !== null && !Array.isArray(c.architectures)) {
    throw new ModelConfigError(`${source}: field "architectures" must be a list of class names (got ${show(c.architectures)})`);
  }
  // A Llama body under a classification or embedding head has no LM head for us to evaluate.
  let architecture = SUPPORTED[modelType];
  if (architectures.length > 0) {
    const found = architectures.find((a) => SUPPORTED_ARCHITECTURES.has(a));
    if (found === undefined) {
      throw new UnsupportedModelError(
        `${source}: unsupported architecture (architectures: ${archList}, model_type "${modelType}"); ` +
          `need one of ${[...SUPPORTED_ARCHITECTURES].join(', ')}. ${SUPPORT_NOTE}`,
      );
    }
    architecture = found;
  }

  const field = (key: string): unknown => c[key];
  const fail = (key: string, why: string): never => {
    throw new ModelConfigError(`${source}: field "${key}" ${why} (got ${show(field(key))})`);
  };
  const requiredInt = (key: string): number => {
    const v = field(key);
    if (v === undefined || v === null) throw new ModelConfigError(`${source}: missing required field "${key}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(key, 'must be a positive integer');
    return v as number;
  };
  const optionalInt = (key: string, fallback: number): number =>
    field(key) === undefined || field(key) === null ? fallback : requiredInt(key);
  const positiveNumber = (key: string, v: unknown, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ModelConfigError(`${source}: field "${key}" must be a positive number (got ${show(v)})`);
    }
    return v;
  };
  const tokenId = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new ModelConfigError(`${source}: field "${key}" must be a token id or a list of them (got ${show(field(key))})`);
    }
    return v;
  };

  const numLayers = requiredInt('num_hidden_layers');
  const hiddenSize = requiredInt('hidden_size');
  const numHeads = requiredInt('num_attention_heads');
  const intermediateSize = requiredInt('intermediate_size');
  const vocabSize = requiredInt('vocab_size');
  const numKvHeads = optionalInt('num_key_value_heads', numHeads);

  if (field('head_dim') === undefined || field('head_dim') === null) {
    if (hiddenSize % numHeads !== 0) {
      throw new ModelConfigError(
        `${source}: field "hidden_size" (${hiddenSize}) is not divisible by "num_attention_heads" (${numHeads}) and no "head_dim" is given`,
      );
    }
  }
  const headDim = optionalInt('head_dim', hiddenSize / numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelConfigError(
      `${source}: field "num_attention_heads" (${numHeads}) is not a multiple of "num_key_value_heads" (${numKvHeads})`,
    );
  }

  // transformers v5 moves rope_theta and rope_scaling into a single rope_parameters object.
  const ropeParameters = field('rope_parameters');
  if (ropeParameters !== undefined && ropeParameters !== null && !isObject(ropeParameters)) {
    fail('rope_parameters', 'must be an object');
  }
  const ropeParams = isObject(ropeParameters) ? ropeParameters : null;
  for (const [key, scaling] of [
    ['rope_scaling', field('rope_scaling')],
    ['rope_parameters', ropeParams],
  ] as const) {
    if (scaling === undefined || scaling === null) continue;
    if (!isObject(scaling)) fail(key, 'must be an object or null');
    const s = scaling as Json;
    const type = s.rope_type ?? s.type ?? 'default';
    if (!(typeof type === 'string' && PLAIN_ROPE.has(type))) {
      throw new UnsupportedModelError(
        `${source}: field "${key}" asks for RoPE scaling type ${show(type)}, which Compressed Trust Lab does not implement (only plain RoPE, rope_scaling null)`,
      );
    }
  }
  const ropeTheta = positiveNumber('rope_theta', field('rope_theta') ?? ropeParams?.rope_theta, 10000);
  const rmsNormEps = positiveNumber('rms_norm_eps', field('rms_norm_eps'), 1e-6);

  // Llama's optional extras change the block's maths; refuse rather than drop them silently.
  const hiddenAct = field('hidden_act');
  if (hiddenAct !== undefined && hiddenAct !== null && hiddenAct !== 'silu') {
    throw new UnsupportedModelError(`${source}: field "hidden_act" is ${show(hiddenAct)}; only "silu" (SwiGLU) is supported`);
  }
  if (field('mlp_bias') === true) {
    throw new UnsupportedModelError(`${source}: field "mlp_bias" is true; biased MLP projections are not supported`);
  }

  const boolField = (key: string, fallback: boolean): boolean => {
    const v = field(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') fail(key, 'must be true or false');
    return v as boolean;
  };
  const tiedEmbeddings = boolField('tie_word_embeddings', false);
  const attentionBias = boolField('attention_bias', false);
  const qkvBias = modelType === 'qwen2' || attentionBias;

  const maxPositions = optionalInt('max_position_embeddings', DEFAULT_MAX_POSITIONS[modelType]);

  const bos = field('bos_token_id');
  const bosTokenId = bos === undefined || bos === null ? null : tokenId('bos_token_id', bos);
  const eos = field('eos_token_id');
  const eosTokenIds =
    eos === undefined || eos === null
      ? []
      : Array.isArray(eos)
        ? eos.map((e) => tokenId('eos_token_id', e))
        : [tokenId('eos_token_id', eos)];

  const dtype = field('torch_dtype') ?? field('dtype');
  const torchDtype = typeof dtype === 'string' ? dtype : null;

  return {
    modelType,
    architecture,
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    ropeTheta,
    rmsNormEps,
    tiedEmbeddings,
    qkvBias,
    maxPositions,
    bosTokenId,
    eosTokenIds,
    torchDtype,
  };
}

/** `parseModelSpec` on the text of a config file, with JSON syntax errors named as such. */
export function parseModelSpecText(text: string, source = 'config.json'): ModelSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`malformed JSON in ${source}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseModelSpec(json, source);
}
