import type { ModelSpec } from '../../model/spec';
import { blockForward } from '../reference/block';
import { TYPESCRIPT_KERNELS, webGpuBlockRunner, type Kernels } from './backend';
import type { BlockRunner, ForwardKind } from './runner-types';

/** The block forward of `reference/block.ts`, one sample at a time on the main thread. */
export function typeScriptBlockRunner(spec: ModelSpec): BlockRunner {
  return {
    kind: 'typescript',
    async run(layer, lw, inputs, seqLen, until, each, signal) {
      for (let s = 0; s < inputs.length; s++) {
        signal?.throwIfAborted();
        await each(s, blockForward(spec, layer, lw, inputs[s], seqLen, until));
        // Let progress events and cancellation through on long passes.
        if (s % 8 === 7) await yieldToEventLoop();
      }
    },
    async dispose() {},
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/**
 * Runs a block runner by kind; ORT ones are loaded on demand (they pull in onnxruntime-web).
 * `webgpu` runs on the device of `kernels`.
 */
export async function createBlockRunner(kind: ForwardKind, spec: ModelSpec, kernels: Kernels = TYPESCRIPT_KERNELS): Promise<BlockRunner> {
  if (kind === 'typescript') return typeScriptBlockRunner(spec);
  if (kind === 'webgpu') return webGpuBlockRunner(kernels, spec);
  const { OrtBlockRunner } = await import('./ort-block');
  return new OrtBlockRunner(spec, kind === 'ort-webgpu' ? 'webgpu' : 'wasm');
}
