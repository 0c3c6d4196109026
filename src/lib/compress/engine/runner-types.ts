import type { BlockOutput, BlockOutputs, LayerTensors } from '../reference/block';
import type { BlockTap } from '../../model/spec';
import type { Timer } from './timer';

/** What a runner times its parts with. */
export type PhaseTimer = Pick<Timer, 'time'>;

/** Which block forward runs the calibration passes. */
export type ForwardKind = 'typescript' | 'ort-wasm' | 'ort-webgpu' | 'webgpu';

/** The part of a layer AWQ's scale search scores a candidate on. */
export type SubBlock = { kind: 'attention' } | { kind: 'mlp' } | { kind: 'linear'; linear: 'o_proj' | 'down_proj' };

/** Squared error of a sub-block's output under candidate weights against its output under the dense weights. */
export interface SubBlockLoss {
  /** Σ (y − y_dense)² over every sample, token and output. */
  sum(lw: LayerTensors): Promise<number>;
  destroy(): void;
}

/** Runs one decoder layer over every calibration sample. */
export interface BlockRunner {
  readonly kind: ForwardKind;
  /**
   * Layer `layer` with tensors `lw` on each sample's hidden states ([L, hidden]), computed up to
   * `until`; `each` gets at least the outputs in `want` (default: every tap up to `until`, and
   * the output for `out`). A runner may hand back more, but one whose outputs live elsewhere (a
   * GPU, ORT's heap) copies out only those wanted: a tap of a 65k-token batch is hundreds of MB.
   * A runner that can tell its own parts apart times them into `timer` as sub-phases of the
   * caller's (`forward: gpu`, the wait for the device's queue after submission, work queued before
   * the pass included; `forward: readback`).
   */
  run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: BlockTap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
    want?: readonly BlockOutput[],
    timer?: PhaseTimer,
  ): Promise<void>;
  /**
   * AWQ's candidate loss on this runner's device, where it has one: `inputs` is the
   * sub-block's input of every sample back to back ([samples · seqLen, width]), `dense` the
   * weights whose output is the target. Absent: the strategy computes it in TypeScript.
   */
  subBlockLoss?(
    layer: number,
    sub: SubBlock,
    inputs: Float32Array,
    samples: number,
    seqLen: number,
    dense: LayerTensors,
  ): Promise<SubBlockLoss>;
  dispose(): Promise<void>;
}
