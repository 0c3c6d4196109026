import type { LinearId } from '../../model/spec';
import type { QuantizedMatrix } from '../reference/quantizer';
import type { ResolvedSettings } from '../reference/settings';
import type { Kernels } from './backend';
import type { ForwardKind } from './runner-types';

/** What the compressor reports while it runs, and what it returns. */

export interface DriverProgress {
  phase: 'capture' | 'layer' | 'done';
  layer?: number;
  layers: number;
  /** What the layer is doing: a block pass over the samples, a scale search, a linear's kernel. */
  step?: 'forward' | 'compress' | 'awq-search' | 'awq-clip';
  linear?: LinearId;
  /** Linears of this layer already compressed. */
  linearsDone?: number;
  /** Overall fraction done, 0…1 (layers weigh equally). */
  fraction: number;
  message: string;
}

export interface LinearReport {
  /** Full tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  layer: number;
  linear: LinearId;
  /** [out, in]. */
  shape: [number, number];
  /** ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² on calibration inputs (AWQ: in the scaled coordinates the layer runs in). */
  error: number;
  /** Tokens the error was measured on. */
  errorTokens: number;
  /** Fraction of exact zeros. */
  zeros: number;
  /** Quantized: the most distinct values in one (row, group) (≤ 2^bits). */
  maxDistinct?: number;
  /** Null when the structure promised by the method holds (N:M, ratio, ≤ 2^bits per group). */
  structureProblem: string | null;
  /** Effective quantization group (clipped to the width); 0 for pruning. */
  groupSize: number;
  /** GPTQ / SparseGPT prologue: damping used, retries, dead input channels. */
  solver?: { percdamp: number; damp: number; retries: number; deadColumns: number; actOrder: boolean };
  /** AWQ: the scale search that scaled this linear's inputs, and the share of groups the clip search clipped. */
  awq?: { search: string; ratio: number; loss: number; fallback: boolean; clippedGroups?: number };
  ms: number;
}

export interface LayerOutput {
  layer: number;
  /** Every tensor of the layer, full names: compressed linears, and norms (AWQ folds scales into them). */
  tensors: Map<string, Float32Array>;
  /** Codes / scales / zero points of each quantized linear (full weight name), for packing. */
  quantized: Map<string, QuantizedMatrix>;
  linears: LinearReport[];
}

export interface LayerTiming {
  layer: number;
  ms: number;
  /** Milliseconds per phase within the layer. */
  phases: Record<string, number>;
}

/** What `compressLayers` returns. */
export interface CompressReport {
  settings: ResolvedSettings;
  kernels: Kernels['kind'];
  forward: ForwardKind;
  samples: number;
  /** Samples the block passes ran: `samples`, or fewer for a data-free method (`forwardedSamples`). */
  forwardSamples: number;
  seqLen: number;
  layers: LayerTiming[];
  linears: LinearReport[];
  /** Sum of GPTQ / SparseGPT damping retries over all linears. */
  dampRetries: number;
  timings: { captureMs: number; layersMs: number; totalMs: number; phases: Record<string, number> };
}
