import * as ort from 'onnxruntime-web/webgpu';
import { fixOrtThreads } from '../../infer/ort-env';
import { BLOCK_TAPS, layerPrefix, tapWidth, type BlockTap, type ModelSpec } from '../../model/spec';
import { buildDecoderBlock } from '../../onnx';
import { outputsUntil, type BlockOutput, type BlockOutputs, type LayerTensors } from '../reference/block';
import type { BlockRunner } from './runner-types';

/** Bytes of activations one `session.run` may produce (batches of samples are sized to it). */
const BATCH_BYTES = 64 * 1024 * 1024;

/**
 * The block forward as a one-layer ONNX graph (`buildDecoderBlock`) in onnxruntime-web. Weights
 * are inline (ORT-web shares external data between sessions by file name), so each weight set
 * is its own session: one per `run`, released before the next is created. The graph always
 * computes the whole layer and every tap; only the outputs wanted are fetched out of ORT's heap.
 */
export class OrtBlockRunner implements BlockRunner {
  readonly kind: 'ort-wasm' | 'ort-webgpu';

  constructor(
    private readonly spec: ModelSpec,
    private readonly ep: 'wasm' | 'webgpu',
  ) {
    this.kind = ep === 'wasm' ? 'ort-wasm' : 'ort-webgpu';
    fixOrtThreads();
  }

  async run(
    layer: number,
    lw: LayerTensors,
    inputs: readonly Float32Array[],
    seqLen: number,
    until: BlockTap | 'out',
    each: (sample: number, out: BlockOutputs) => void | Promise<void>,
    signal?: AbortSignal,
    want: readonly BlockOutput[] = outputsUntil(until),
  ): Promise<void> {
    const { spec } = this;
    const prefix = layerPrefix(layer);
    const built = buildDecoderBlock(spec, layer, (name) => (name.startsWith(prefix) ? lw.get(name.slice(prefix.length)) : undefined)!, {
      externalData: false,
    });
    const session = await ort.InferenceSession.create(built.model, { executionProviders: [this.ep], logSeverityLevel: 3 });
    try {
      const H = spec.hiddenSize;
      const width = (t: BlockOutput) => (t === 'out' ? H : tapWidth(spec, t));
      const outputName = (t: BlockOutput) => (t === 'out' ? 'hidden_states_out' : t);
      const perSample = seqLen * 4 * (H + BLOCK_TAPS.reduce((a, t) => a + tapWidth(spec, t), 0));
      const B = Math.max(1, Math.floor(BATCH_BYTES / perSample));
      for (let s0 = 0; s0 < inputs.length; s0 += B) {
        signal?.throwIfAborted();
        const b = Math.min(B, inputs.length - s0);
        const hidden = new Float32Array(b * seqLen * H);
        for (let k = 0; k < b; k++) hidden.set(inputs[s0 + k], k * seqLen * H);
        const pos = new BigInt64Array(b * seqLen);
        for (let k = 0; k < b; k++) for (let t = 0; t < seqLen; t++) pos[k * seqLen + t] = BigInt(t);
        const out = await session.run(
          {
            hidden_states: new ort.Tensor('float32', hidden, [b, seqLen, H]),
            position_ids: new ort.Tensor('int64', pos, [b, seqLen]),
          },
          want.map(outputName),
        );
        const data = new Map<BlockOutput, Float32Array>();
        for (const t of want) data.set(t, (await out[outputName(t)].getData()) as Float32Array);
        for (const t of Object.values(out)) t.dispose();
        for (let k = 0; k < b; k++) {
          const outs: BlockOutputs = {};
          for (const [t, v] of data) outs[t] = v.slice(k * seqLen * width(t), (k + 1) * seqLen * width(t));
          await each(s0 + k, outs);
        }
      }
    } finally {
      await session.release();
    }
  }

  async dispose(): Promise<void> {}
}
