import { ARCHITECTURES, familyForModelType, supportNote } from './architectures';
import { ConfigFields, ModelConfigError, UnsupportedModelError, isObject, show } from './config-fields';
import type { ModelSpec } from './spec';

export { ModelConfigError, UnsupportedModelError } from './config-fields';

const CAUSAL_LM_CLASSES = new Set(ARCHITECTURES.flatMap((a) => a.architectures));

/**
 * Reads a Hugging Face `config.json` into a `ModelSpec` through the family registered for its
 * `model_type`, refusing anything we would otherwise run with silently wrong numerics (other
 * architectures, RoPE scaling we don't implement, inconsistent head counts).
 */
export function parseModelSpec(config: unknown, source = 'config.json'): ModelSpec {
  if (!isObject(config)) {
    throw new ModelConfigError(`${source}: expected a JSON object, got ${Array.isArray(config) ? 'an array' : show(config)}`);
  }
  const architectures = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  const archList = architectures.length > 0 ? architectures.join(', ') : 'none listed';

  const modelType = config.model_type;
  const family = familyForModelType(modelType);
  if (!family) {
    const what = modelType === undefined || modelType === null ? 'Missing model_type' : `Unsupported model_type ${show(modelType)}`;
    throw new UnsupportedModelError(`${source}: ${what} (architectures: ${archList}). ${supportNote()}`);
  }
  if (config.architectures !== undefined && config.architectures !== null && !Array.isArray(config.architectures)) {
    throw new ModelConfigError(`${source}: field "architectures" must be a list of class names (got ${show(config.architectures)})`);
  }
  // A decoder body under a classification or embedding head has no LM head for us to evaluate.
  let architecture = family.architectures[0];
  if (architectures.length > 0) {
    const found = architectures.find((a) => family.architectures.includes(a));
    if (found === undefined) {
      throw new UnsupportedModelError(
        `${source}: unsupported architecture (architectures: ${archList}, model_type "${String(modelType)}"); ` +
          `need one of ${[...CAUSAL_LM_CLASSES].join(', ')}. ${supportNote()}`,
      );
    }
    architecture = found;
  }

  const text = family.textConfig ? family.textConfig(config) : config;
  // An explicit null overrides a class default (Mistral's `sliding_window: null` means no window).
  const withDefaults = { ...family.defaults };
  for (const [k, v] of Object.entries(text)) if (v !== undefined) withDefaults[k] = v;
  const f = new ConfigFields(withDefaults, source);

  const numLayers = f.requiredInt('num_hidden_layers');
  const hiddenSize = f.requiredInt('hidden_size');
  const numHeads = f.requiredInt('num_attention_heads');
  const intermediateSize = f.requiredInt('intermediate_size');
  const vocabSize = f.requiredInt('vocab_size');
  const numKvHeads = f.optionalInt('num_key_value_heads', numHeads);
  if (!f.has('head_dim') && hiddenSize % numHeads !== 0) {
    throw new ModelConfigError(
      `${source}: field "hidden_size" (${hiddenSize}) is not divisible by "num_attention_heads" (${numHeads}) and no "head_dim" is given`,
    );
  }
  const headDim = f.optionalInt('head_dim', hiddenSize / numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelConfigError(
      `${source}: field "num_attention_heads" (${numHeads}) is not a multiple of "num_key_value_heads" (${numKvHeads})`,
    );
  }
  if (headDim % 2 !== 0) throw new ModelConfigError(`${source}: field "head_dim" (${headDim}) must be even for RoPE`);

  const own = family.read(f, { numLayers, hiddenSize, numHeads, numKvHeads, headDim });
  const rmsNormEps = f.positiveNumber('rms_norm_eps', 1e-6);
  const tiedEmbeddings = f.bool('tie_word_embeddings', false);
  const maxPositions = f.optionalInt('max_position_embeddings', family.defaults.max_position_embeddings as number);

  const tokenId = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new ModelConfigError(`${source}: field "${key}" must be a token id or a list of them (got ${show(f.get(key))})`);
    }
    return v;
  };
  const bos = f.get('bos_token_id');
  const bosTokenId = bos === undefined || bos === null ? null : tokenId('bos_token_id', bos);
  const eos = f.get('eos_token_id');
  const eosTokenIds =
    eos === undefined || eos === null
      ? []
      : Array.isArray(eos)
        ? eos.map((e) => tokenId('eos_token_id', e))
        : [tokenId('eos_token_id', eos)];
  const dtype = f.get('torch_dtype') ?? f.get('dtype');
  const torchDtype = typeof dtype === 'string' ? dtype : null;

  return {
    modelType: family.id,
    architecture,
    numLayers,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize,
    vocabSize,
    rope: own.rope,
    localRope: own.localRope,
    layerKinds: own.layerKinds,
    slidingWindow: own.slidingWindow,
    rmsNormEps,
    tiedEmbeddings,
    qkvBias: own.qkvBias,
    block: own.block,
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

/**
 * `spec` with the end-of-sequence ids of `generation_config.json` added to config.json's. That
 * file is where instruction-tuned checkpoints list their end-of-turn token (Gemma 3's
 * `<end_of_turn>`, Qwen's `<|endoftext|>` beside `<|im_end|>`); without it a reply runs on into
 * turns the model writes for the user. Config's ids come first, so its first stays the padding
 * fallback.
 */
export function withGenerationStops(spec: ModelSpec, generationConfigText: string, source = 'generation_config.json'): ModelSpec {
  let json: unknown;
  try {
    json = JSON.parse(generationConfigText);
  } catch (e) {
    throw new ModelConfigError(`malformed JSON in ${source}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(json)) throw new ModelConfigError(`${source} must hold a JSON object (got ${show(json)})`);
  const eos = json.eos_token_id;
  if (eos === undefined || eos === null) return spec;
  const ids = Array.isArray(eos) ? eos : [eos];
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ModelConfigError(`${source}: field "eos_token_id" must be a token id or a list of them (got ${show(eos)})`);
    }
  }
  const merged = [...new Set([...spec.eosTokenIds, ...(ids as number[])])];
  return merged.length === spec.eosTokenIds.length ? spec : { ...spec, eosTokenIds: merged };
}
