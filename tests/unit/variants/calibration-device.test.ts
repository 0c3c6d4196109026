import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../../../src/lib/model/config';
import { KNOWN_MODELS } from '../../../src/lib/model/known-models';
import { selfCalibrationDevice } from '../../../src/lib/variants/compress-model';

const spec = (id: string) => {
  const m = KNOWN_MODELS.find((k) => k.id === id);
  if (!m) throw new Error(`${id} missing from the catalog`);
  return parseModelSpec(m.config);
};

describe('where self-generated calibration is written', () => {
  it('on WASM (the same samples on every machine) while the dense model fits there, on WebGPU past it', () => {
    const chosen = Object.fromEntries(KNOWN_MODELS.map((m) => [m.id, selfCalibrationDevice(spec(m.id))]));
    expect(chosen).toEqual({
      'HuggingFaceTB/SmolLM2-135M-Instruct': 'wasm',
      'HuggingFaceTB/SmolLM2-360M-Instruct': 'wasm',
      'HuggingFaceTB/SmolLM2-1.7B-Instruct': 'webgpu',
      'Qwen/Qwen2.5-0.5B-Instruct': 'wasm',
      'Qwen/Qwen2.5-1.5B-Instruct': 'webgpu',
      'Qwen/Qwen3-0.6B': 'wasm',
      'Qwen/Qwen3-1.7B': 'webgpu',
      'meta-llama/Llama-3.2-1B-Instruct': 'webgpu',
      'meta-llama/Llama-3.2-3B-Instruct': 'webgpu',
      'google/gemma-3-270m-it': 'wasm',
      'google/gemma-3-1b-it': 'webgpu',
    });
  });

  it('a device the request names wins; a smaller WASM budget moves a model to WebGPU', () => {
    const smol = spec('HuggingFaceTB/SmolLM2-135M-Instruct');
    expect(selfCalibrationDevice(spec('meta-llama/Llama-3.2-1B-Instruct'), 'wasm')).toBe('wasm');
    expect(selfCalibrationDevice(smol, 'webgpu')).toBe('webgpu');
    expect(selfCalibrationDevice(smol, undefined, 256 * 1024 ** 2)).toBe('webgpu');
  });
});
