export {
  buildCausalLm,
  buildCausalLmStreaming,
  buildDecoderBlock,
  BLOCK_TAPS,
  ONNX_OPSET,
  pastKeyName,
  prefixKeyName,
  presentKeyName,
  newKeyName,
} from './decoder';
export type {
  AsyncWeightSource,
  BlockTap,
  CausalLmGraph,
  StreamingCausalLm,
  DecoderGraphOptions,
  Precision,
  PackedSource,
  WeightSource,
} from './decoder';
export { GraphBuilder } from './graph-builder';
export type { BuiltGraph, ExternalDataFile, LaidOutGraph, WriteFn } from './graph-builder';
export { externalDataFileNames, layoutExternalData, DEFAULT_ALIGN, DEFAULT_MAX_CHUNK_BYTES } from './external-data';
export type { ExternalDataLayout, ExternalDataOptions, Placement } from './external-data';
export { Float16RangeError } from './float16';
export { dequantizeMatMulNBits, packMatMulNBits, packMatMulNBitsCodes, unpackMatMulNBits } from './matmul-nbits';
export type { NBits, PackedLinear } from './matmul-nbits';
export { ropeInvFreq } from '../model/rope';
