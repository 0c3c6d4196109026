import axpyWgsl from './axpy.wgsl?raw';
import { dispatch, readF32, uploadF32 } from '../../../src/lib/gpu/kernel';
import { defineParams } from '../../../src/lib/gpu/params';
import { composeWgsl } from '../../../src/lib/gpu/shader';

const WORKGROUP = 64;

export const AXPY_PARAMS = defineParams({ a: 'f32', n: 'u32' });
export const AXPY_WGSL = composeWgsl(AXPY_PARAMS.wgsl, axpyWgsl);

/** TypeScript reference for `axpy.wgsl`. */
export function axpyReference(a: number, x: Float32Array, y: Float32Array): Float32Array {
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = Math.fround(Math.fround(a * x[i]) + y[i]);
  return out;
}

/** y ← a·x + y on the GPU; returns the new y. */
export async function axpyGpu(device: GPUDevice, a: number, x: Float32Array, y: Float32Array): Promise<Float32Array> {
  if (x.length !== y.length) throw new Error(`axpy: length mismatch ${x.length} vs ${y.length}`);
  const params = AXPY_PARAMS.write({ a, n: y.length });
  const xb = uploadF32(device, x);
  const yb = uploadF32(device, y);
  dispatch(
    device,
    AXPY_WGSL,
    [
      { kind: 'uniform', data: params },
      { kind: 'read', buffer: xb },
      { kind: 'readwrite', buffer: yb },
    ],
    [Math.ceil(y.length / WORKGROUP)],
  );
  const out = await readF32(device, yb, y.length);
  xb.destroy();
  yb.destroy();
  return out;
}
