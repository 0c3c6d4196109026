/** What a decoder graph is built from (weights, packed linears, options) and the names and constants its builders share. */
import { BLOCK_TAPS, type BlockTap, type ModelSpec } from '../model/spec';
import { type BuiltGraph, type LaidOutGraph } from './graph-builder';
import type { ExternalDataOptions } from './external-data';
import { type PackedLinear } from './matmul-nbits';

/** Hugging Face tensor name → fp32 values (PyTorch layout: Linear weights are [out, in]). */
export type WeightSource = ((name: string) => Float32Array) | ReadonlyMap<string, Float32Array>;
/**
 * The same, read on demand (e.g. from the IndexedDB cache): `buildCausalLmStreaming` asks for
 * each tensor once, when its bytes are written, and keeps no reference afterwards.
 */
export type AsyncWeightSource = (name: string) => Promise<Float32Array>;
/** Linear weight name (e.g. `model.layers.0.mlp.down_proj.weight`) → MatMulNBits packing, or undefined. */
export type PackedSource = ((name: string) => PackedLinear | undefined) | ReadonlyMap<string, PackedLinear>;

export interface DecoderGraphOptions {
  /**
   * `matmul` (default): fp32 MatMul against the transposed weight. `matmulnbits`: com.microsoft
   * MatMulNBits for every linear that `packed` has an entry for (keyed by the weight's name);
   * linears without one (typically `lm_head`) stay fp32.
   */
  linear?: 'matmul' | 'matmulnbits';
  packed?: PackedSource;
  /** External data settings (file name, chunk size, alignment); `false` keeps weights inline. */
  externalData?: false | ExternalDataOptions;
  /**
   * `fp32` (default), or `fp16`: linear weights, the embedding and MatMulNBits scales stored in
   * half precision, each matmul run in fp16 between two Casts, everything else (norms,
   * attention, residual stream, K/V, logits) in fp32. Half the weight memory, for adapters with
   * `shader-f16`; the inputs and outputs are the fp32 graph's.
   */
  precision?: Precision;
}

export type Precision = 'fp32' | 'fp16';

/** ONNX TensorProto type codes for Cast. */
export const TO_FLOAT16 = 10;
export const TO_FLOAT = 1;

export interface CausalLmGraph extends BuiltGraph {
  /** The chunk count, for `transformers.js_config.use_external_data_format` ({ "model.onnx": n }). */
  externalDataChunks: number;
}

/** `buildCausalLmStreaming`'s result: the graph laid out, its external data written on demand. */
export interface StreamingCausalLm extends LaidOutGraph {
  externalDataChunks: number;
}

/** Default-domain opset; 17 keeps ReduceMean's `axes` an attribute. */
export const ONNX_OPSET = 17;
export const OPSETS = [
  { domain: '', version: ONNX_OPSET },
  { domain: 'com.microsoft', version: 1 },
];

/** Added to attention scores that are masked out; finite so that fully masked rows stay NaN-free. */
export const MASKED = -1e30;

// The graph outputs of `buildDecoderBlock` that carry the input of each linear layer.
export { BLOCK_TAPS, type BlockTap };

/** RoPE positions are split as hi·L + lo for the cos/sin tables (see `rope`). */
export const ROPE_TABLE_SPLIT = 256;

export function pastKeyName(layer: number, kind: 'key' | 'value'): string {
  return `past_key_values.${layer}.${kind}`;
}
export function presentKeyName(layer: number, kind: 'key' | 'value'): string {
  return `present.${layer}.${kind}`;
}
/** The keys or values of a prefix every row of a batch shares, held once (batch 1) instead of once per row. */
export function prefixKeyName(layer: number, kind: 'key' | 'value'): string {
  return `prefix_key_values.${layer}.${kind}`;
}

/**
 * The keys or values of this pass's tokens alone (what `present` appends to the past), so a caller
 * that keeps the cache itself fetches only these instead of the whole cache each step.
 */
export function newKeyName(layer: number, kind: 'key' | 'value'): string {
  return `new_key_values.${layer}.${kind}`;
}

export function checkSpec(spec: ModelSpec): void {
  const { numHeads, numKvHeads, headDim } = spec;
  if (!(numKvHeads > 0 && numHeads % numKvHeads === 0))
    throw new Error(`num_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new Error(`head_dim ${headDim} must be even for RoPE`);
}

export function toGetter<T>(src: ((name: string) => T) | ReadonlyMap<string, T>): (name: string) => T | undefined {
  return typeof src === 'function' ? src : (name) => src.get(name);
}
