export { buildCausalLm, buildDecoderBlock, BLOCK_TAPS, ONNX_OPSET, pastKeyName, presentKeyName, ropeInvFreq } from './llama';
export type { BlockTap, CausalLmGraph, LlamaGraphOptions, PackedSource, WeightSource } from './llama';
export { GraphBuilder } from './graph-builder';
export type { BuiltGraph, ExternalDataFile } from './graph-builder';
export { externalDataFileNames, layoutExternalData, DEFAULT_ALIGN, DEFAULT_MAX_CHUNK_BYTES } from './external-data';
export type { ExternalDataLayout, ExternalDataOptions, Placement } from './external-data';
export { dequantizeMatMulNBits, packMatMulNBits, packMatMulNBitsCodes, unpackMatMulNBits } from './matmul-nbits';
export type { NBits, PackedLinear } from './matmul-nbits';
