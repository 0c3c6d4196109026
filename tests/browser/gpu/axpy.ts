import axpyWgsl from './axpy.wgsl?raw';
import { dispatch, readF32, uploadF32 } from '../../../src/lib/gpu/kernel';

const WORKGROUP = 64;

/** TypeScript reference for `axpy.wgsl`. */
export function axpyReference(a: number, x: Float32Array, y: Float32Array): Float32Array {
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = Math.fround(Math.fround(a * x[i]) + y[i]);
  return out;
}

/** y ← a·x + y on the GPU; returns the new y. */
export async function axpyGpu(device: GPUDevice, a: number, x: Float32Array, y: Float32Array): Promise<Float32Array> {
  if (x.length !== y.length) throw new Error(`axpy: length mismatch ${x.length} vs ${y.length}`);
  const params = new ArrayBuffer(8);
  new Float32Array(params, 0, 1)[0] = a;
  new Uint32Array(params, 4, 1)[0] = y.length;
  const xb = uploadF32(device, x);
  const yb = uploadF32(device, y);
  dispatch(
    device,
    axpyWgsl,
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
