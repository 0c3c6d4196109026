import { type ModelSpec } from '../model/spec';
import { GraphBuilder, type BuiltGraph } from './graph-builder';
import type { ExternalDataOptions } from './external-data';
import {
  OPSETS,
  BLOCK_TAPS,
  pastKeyName,
  prefixKeyName,
  presentKeyName,
  newKeyName,
  type WeightSource,
  type AsyncWeightSource,
  type DecoderGraphOptions,
  type CausalLmGraph,
  type StreamingCausalLm,
  type BlockTap,
} from './decoder-options';
import { DecoderContext } from './decoder-context';

export type {
  WeightSource,
  AsyncWeightSource,
  PackedSource,
  DecoderGraphOptions,
  Precision,
  CausalLmGraph,
  StreamingCausalLm,
  BlockTap,
} from './decoder-options';
export { ONNX_OPSET, BLOCK_TAPS, pastKeyName, prefixKeyName, presentKeyName, newKeyName, checkSpec } from './decoder-options';

function builderOptions(options: DecoderGraphOptions) {
  return { opsets: OPSETS, externalData: options.externalData ?? {} };
}

/**
 * The full decoder with KV cache, with the I/O transformers.js expects of a decoder-only model:
 * inputs `input_ids`, `attention_mask`, `position_ids` (int64), `num_logits_to_keep` (an int64
 * scalar: the last k positions get logits, 0 for all) and `past_key_values.{i}.key|value`
 * [batch_size, kv_heads, past_sequence_length, head_dim]; outputs `logits` [batch, k or seq, vocab]
 * and `present.{i}.key|value` [batch_size, kv_heads, own_sequence_length, head_dim].
 * One input more than transformers.js knows: `prefix_key_values.{i}.key|value`
 * [1, kv_heads, prefix_sequence_length, head_dim], keys and values of tokens that precede every
 * row's past, held once for the whole batch. A batch of few-shot prompts sharing their
 * demonstrations decodes over one copy of them instead of one a row, so a step's copies of the
 * cache into and out of the runtime shrink from rows × (prefix + own) to prefix + rows × own;
 * `attention_mask` and positions cover prefix, past and new tokens. Empty (length 0) it is the
 * plain decoder, computed exactly as without it (`infer/prefix-session.ts` feeds it so to
 * transformers.js' calls).
 * Outputs after transformers.js' own: `new_key_values.{i}.key|value` [batch_size, kv_heads,
 * sequence_length, head_dim], the keys and values of this pass's tokens only. A caller that keeps
 * the cache in host memory fetches these instead of `present`: every tensor an ORT-web run hands
 * back is a fresh JavaScript buffer, and a whole cache's worth of fresh pages a step costs more
 * than the step itself on a small model.
 * transformers.js feeds 1 while it generates, so a prompt's prefill skips the LM head on every
 * position but the last: the largest single cost of prefill for a large vocabulary (Gemma 3's
 * head of 262k rows is 1.7× the rest of its 270M model) and a [seq, vocab] tensor it never reads.
 * (transformers.js builds the empty first cache from these input shapes: the batch dimension must
 * be called `batch_size` and the others fixed numbers.)
 */
export function buildCausalLm(spec: ModelSpec, weights: WeightSource, options: DecoderGraphOptions = {}): CausalLmGraph {
  const built = defineCausalLm(spec, weights, options).build(causalLmBuildOptions(spec, options));
  return { ...built, externalDataChunks: built.externalData.length };
}

/**
 * `buildCausalLm` for a whole checkpoint: byte for byte the same graph, but laid out first and
 * its external data produced file by file as the caller writes it, each weight read from
 * `weights` only when its turn comes, so memory holds about one tensor instead of the model.
 */
export function buildCausalLmStreaming(
  spec: ModelSpec,
  weights: AsyncWeightSource,
  options: Omit<DecoderGraphOptions, 'externalData'> & { externalData?: ExternalDataOptions } = {},
): StreamingCausalLm {
  const laid = defineCausalLm(spec, weights, options).layout(causalLmBuildOptions(spec, options));
  return { ...laid, externalDataChunks: laid.externalFiles.length };
}

function causalLmBuildOptions(spec: ModelSpec, options: DecoderGraphOptions) {
  return { ...builderOptions(options), metadata: { architecture: spec.architecture, model_type: spec.modelType } };
}

function defineCausalLm(spec: ModelSpec, weights: WeightSource | AsyncWeightSource, options: DecoderGraphOptions): GraphBuilder {
  const b = new GraphBuilder('causal_lm');
  const ctx = new DecoderContext(b, spec, weights, options);
  const { numKvHeads: KVH, headDim: D, vocabSize: V, numLayers } = spec;
  const inputIds = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = b.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const logitsToKeep = b.input('num_logits_to_keep', 'int64', []);
  const pastShape = ['batch_size', KVH, 'past_sequence_length', D];
  const past = Array.from({ length: numLayers }, (_, i) => ({
    key: b.input(pastKeyName(i, 'key'), 'float32', pastShape),
    value: b.input(pastKeyName(i, 'value'), 'float32', pastShape),
  }));
  const prefixShape = [1, KVH, 'prefix_sequence_length', D];
  const prefix = Array.from({ length: numLayers }, (_, i) => ({
    key: b.input(prefixKeyName(i, 'key'), 'float32', prefixShape),
    value: b.input(prefixKeyName(i, 'value'), 'float32', prefixShape),
  }));

  let x = ctx.embed(inputIds);
  const seqLen = b.op('Gather', [b.op('Shape', [inputIds]), b.i64(1)], { axis: 0 });
  const totalLen = b.op('Gather', [b.op('Shape', [attentionMask]), b.i64(1)], { axis: 0 });
  const inputsOf = ctx.layerInputs(positionIds, (window) => ctx.maskBias(seqLen, totalLen, attentionMask, window));
  for (let i = 0; i < numLayers; i++) {
    const cache = {
      pastKey: past[i].key,
      pastValue: past[i].value,
      prefixKey: prefix[i].key,
      prefixValue: prefix[i].value,
      presentKey: presentKeyName(i, 'key'),
      presentValue: presentKeyName(i, 'value'),
      newKey: newKeyName(i, 'key'),
      newValue: newKeyName(i, 'value'),
    };
    x = ctx.layer(i, x, inputsOf(i), cache).out;
  }
  // Positions [seq - k, seq): Slice from -k, where k = 0 starts at 0 and keeps them all.
  const kept = b.op('Slice', [
    x,
    b.op('Neg', [b.op('Unsqueeze', [logitsToKeep, b.i64([0])])]),
    b.i64([Number.MAX_SAFE_INTEGER]),
    b.i64([1]),
  ]);
  ctx.lmHead(kept);

  b.output('logits', 'float32', ['batch_size', 'logits_length', V]);
  const presentShape = ['batch_size', KVH, 'own_sequence_length', D];
  for (let i = 0; i < numLayers; i++) {
    b.output(presentKeyName(i, 'key'), 'float32', presentShape);
    b.output(presentKeyName(i, 'value'), 'float32', presentShape);
  }
  const newShape = ['batch_size', KVH, 'sequence_length', D];
  for (let i = 0; i < numLayers; i++) {
    b.output(newKeyName(i, 'key'), 'float32', newShape);
    b.output(newKeyName(i, 'value'), 'float32', newShape);
  }
  return b;
}

/**
 * One decoder layer for calibration: inputs `hidden_states` [batch, seq, hidden] and
 * `position_ids` [batch, seq] (causal mask only, no cache); outputs `hidden_states_out` and the
 * input of every linear layer: `q_proj_in` (also k/v), `o_proj_in`, `gate_proj_in` (also up),
 * `down_proj_in`.
 */
export function buildDecoderBlock(
  spec: ModelSpec,
  layerIndex: number,
  weights: WeightSource,
  options: DecoderGraphOptions = {},
): BuiltGraph {
  if (!(Number.isInteger(layerIndex) && layerIndex >= 0 && layerIndex < spec.numLayers))
    throw new Error(`layer ${layerIndex} out of range`);
  const b = new GraphBuilder(`decoder_block_${layerIndex}`);
  const ctx = new DecoderContext(b, spec, weights, options);
  const { hiddenSize: H, numHeads: NH, headDim: D, intermediateSize: I } = spec;
  const hidden = b.input('hidden_states', 'float32', ['batch_size', 'sequence_length', H]);
  const positionIds = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const seqLen = b.op('Gather', [b.op('Shape', [hidden]), b.i64(1)], { axis: 0 });
  const inputsOf = ctx.layerInputs(positionIds, (window) => ctx.maskBias(seqLen, seqLen, undefined, window));
  const { out, taps } = ctx.layer(layerIndex, hidden, inputsOf(layerIndex));
  b.op('Identity', [out], {}, 'hidden_states_out');
  b.output('hidden_states_out', 'float32', ['batch_size', 'sequence_length', H]);
  const tapWidth: Record<BlockTap, number> = { q_proj_in: H, o_proj_in: NH * D, gate_proj_in: H, down_proj_in: I };
  for (const tap of BLOCK_TAPS) {
    b.op('Identity', [taps[tap]], {}, tap);
    b.output(tap, 'float32', ['batch_size', 'sequence_length', tapWidth[tap]]);
  }
  return b.build(builderOptions(options));
}
