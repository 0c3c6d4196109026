import type { LayerTiming, LinearReport } from '../compress/engine/report';
import type { ForwardKind } from '../compress/engine/runner-types';
import type { ResolvedSettings } from '../compress/reference/settings';
import type { GptqExport } from './gptq-layout';

/** How a compressed linear is stored for inference. */
export interface LinearStorage {
  /** `matmulnbits`: packed 4/8-bit in the ONNX graph; `fp32`: fake-quantized or pruned fp32 MatMul. */
  format: 'matmulnbits' | 'fp32';
  /** Bytes of the dense fp32 weight. */
  denseBytes: number;
  /** MatMulNBits bytes (codes + scales + zero points) when packed. */
  packedBytes?: number;
  /** Ideal size of the compressed form (bits·N·K/8 + group scales and zeros; pruned: kept fp32 values + index bits). */
  idealBytes: number;
  /** Why a 4/8-bit linear was not packed. */
  reason?: string;
}

export type VariantLinear = LinearReport & LinearStorage;

/** `ctlab-variant.json`: everything about how a variant was made. */
export interface VariantReport {
  kind: 'ctlab-variant';
  version: 1;
  key: string;
  label: string;
  base: { key: string; label: string };
  method: ResolvedSettings['method'];
  settings: ResolvedSettings;
  settingsLabel: string;
  calibration: {
    source: string;
    samples: number;
    /**
     * Samples the block passes ran: fewer than `samples` for RTN and magnitude, whose passes only
     * feed the error report (its first tokens). Absent in older reports.
     */
    forwardSamples?: number;
    seqLen: number;
    seed: number;
    sourceTokens: number;
    notes: string[];
  };
  /** Where the kernels ran, and on which adapter. */
  kernels: 'webgpu' | 'typescript';
  adapter: string | null;
  /**
   * How that adapter's quantizer divided (`gpu/division.ts`): exact, or refined where its plain
   * division missed IEEE quotients, with the counts. Absent for TypeScript kernels and older reports.
   */
  division?: string;
  /** Why the kernels ran where they did, when `auto` chose TypeScript. */
  kernelsNote?: string;
  /** The block forward used for calibration passes. */
  forward: ForwardKind;
  graph: {
    /** `matmulnbits` when at least one linear is packed (4/8 bits); otherwise the dense fp32 graph is built on first load. */
    linear: 'matmulnbits' | 'matmul';
    packedLinears: number;
    fp32Linears: number;
    notes: string[];
  };
  linears: VariantLinear[];
  /** The `gptq/` checkpoint of a quantized variant (absent for pruned variants and older reports). */
  gptq?: GptqExport;
  summary: {
    meanError: number;
    maxError: number;
    /** Fraction of exact zeros over all compressed linears. */
    zeros: number;
    bits: number | null;
    dampRetries: number;
    structureProblems: string[];
  };
  bytes: {
    /** The base checkpoint's weight files. */
    before: number;
    /** The deployable form: the MatMulNBits graph when there is one, else the fp32 safetensors. */
    after: number;
    safetensors: number;
    graph: number | null;
    /** The same graph with fp16 weights and scales, when one was built (`onnx/model_fp16.onnx`). */
    graphFp16?: number;
    /** Every file of the variant. */
    files: number;
    linearsDense: number;
    /** Linears as stored for inference (packed where packed, fp32 otherwise). */
    linearsStored: number;
    linearsIdeal: number;
  };
  timings: {
    calibrationMs: number;
    captureMs: number;
    layersMs: number;
    storeMs: number;
    graphMs: number;
    totalMs: number;
    phases: Record<string, number>;
    perLayer: LayerTiming[];
  };
  createdAt: string;
}
