import type { BlockOutputs, LayerTensors } from '../reference/block';
import type { BlockTap } from '../../model/spec';

/** Which block forward runs the calibration passes. */
export type ForwardKind = 'typescript' | 'ort-wasm' | 'ort-webgpu';

/** Runs one decoder layer over every calibration sample. */
export interface BlockRunner {
  readonly kind: ForwardKind;
  /**
   * Layer `layer` with tensors `lw` on each sample's hidden states ([L, hidden]); `each` gets
   * at least the outputs up to `until` (a runner may compute more).
   */
  run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: BlockTap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<void>;
  dispose(): Promise<void>;
}
