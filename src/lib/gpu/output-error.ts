import type { Matrix } from '../compress/reference/types';
import { encodeRowSquaredError } from './block-ops';
import { encodeGemm } from './gemm';
import { readF32, Recorder, storageBuffer, uploadF32 } from './kernel';
import { resolveLimits } from './limits';

/**
 * A compressed linear's relative output error ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² on the device: the two
 * products (X·Wᵀ, and X·(W − Ŵ)ᵀ from the difference taken on the CPU, so that a small error is
 * not the cancellation of two large products), each row's sum of squares on the device, the
 * rows summed in double here. The TypeScript reference is `relativeOutputError`
 * (compress/reference/output-error.ts), which sums each product in double as well; this one sums
 * them in fp32 as every GEMM of the engine does.
 *
 * The error report runs for every linear of every layer on up to 1024 tokens, ~7 GMAC per
 * SmolLM2-135M-shaped layer: on the CPU that is a second or so a layer for each variant,
 * while a GPU does it in milliseconds. `prepareDevice` turns it on for hardware adapters.
 */
const onDevice = new WeakSet<GPUDevice>();

export function setOutputErrorOnDevice(device: GPUDevice, on: boolean): void {
  if (on) onDevice.add(device);
  else onDevice.delete(device);
}

export function outputErrorOnDevice(device: GPUDevice): boolean {
  return onDevice.has(device);
}

/** Whether the buffers of an error over `tokens` rows of `cols` inputs and `rows` outputs fit the device's bindings. */
export function outputErrorFits(device: GPUDevice, tokens: number, rows: number, cols: number): boolean {
  const widest = 4 * Math.max(tokens * cols, rows * cols, tokens * rows);
  return widest <= resolveLimits(device).maxBindingBytes;
}

/**
 * ‖XWᵀ − XŴᵀ‖² / ‖XWᵀ‖² with X [tokens, cols] and W, Ŵ [rows, cols] row-major, on `device`.
 * NaN without tokens; Infinity when XWᵀ is zero and the error is not.
 */
export async function gpuRelativeOutputError(
  device: GPUDevice,
  X: Float32Array,
  W: Float32Array,
  What: Float32Array,
  tokens: number,
  rows: number,
  cols: number,
): Promise<number> {
  if (tokens === 0) return NaN;
  const { maxWorkgroupsPerDim: maxDim } = resolveLimits(device);
  const D = new Float32Array(W.length);
  for (let i = 0; i < D.length; i++) D[i] = W[i] - What[i];
  const x = uploadF32(device, X.subarray(0, tokens * cols));
  const w = uploadF32(device, W);
  const d = uploadF32(device, D);
  const y = storageBuffer(device, tokens * rows * 4);
  const yd = storageBuffer(device, tokens * rows * 4);
  const zeros = storageBuffer(device, tokens * rows * 4);
  const sums = storageBuffer(device, tokens * 4);
  const sumsD = storageBuffer(device, tokens * 4);
  try {
    const rec = new Recorder(device);
    encodeRowsTimesWeightT(rec, x, w, y, tokens, rows, cols, maxDim);
    encodeRowsTimesWeightT(rec, x, d, yd, tokens, rows, cols, maxDim);
    rec.clear(zeros, 0, tokens * rows * 4);
    encodeRowSquaredError(rec, y, zeros, sums, tokens, rows, maxDim);
    encodeRowSquaredError(rec, yd, zeros, sumsD, tokens, rows, maxDim);
    rec.submit();
    const den = await readF32(device, sums, tokens);
    const num = await readF32(device, sumsD, tokens);
    let n = 0;
    let dd = 0;
    for (let t = 0; t < tokens; t++) {
      n += num[t];
      dd += den[t];
    }
    return dd === 0 ? (n === 0 ? 0 : Infinity) : n / dd;
  } finally {
    for (const b of [x, w, d, y, yd, zeros, sums, sumsD]) b.destroy();
  }
}

/**
 * y [tokens, rows] = x [tokens, cols] · wᵀ for w as a linear stores it ([rows, cols], row-major),
 * read through the GEMM's strides (no transposed copy: these weights are used once).
 */
export function encodeRowsTimesWeightT(
  rec: Recorder,
  x: GPUBuffer,
  w: GPUBuffer,
  y: GPUBuffer,
  tokens: number,
  rows: number,
  cols: number,
  maxDim: number,
): void {
  // The GEMM adds into C: a reused buffer starts from zeros.
  rec.clear(y, 0, tokens * rows * 4);
  encodeGemm(
    rec,
    {
      m: tokens,
      n: rows,
      k: cols,
      a: { buf: x, off: 0, rs: cols, cs: 1 },
      b: { buf: w, off: 0, rs: 1, cs: cols },
      c: { buf: y, off: 0, rs: rows },
      alpha: 0,
      beta: 1,
    },
    maxDim,
  );
}

/** Σ (X·qᵀ − Y)² for candidate weights q [outF, X.cols] on the device, X and Y resident (AWQ's per-linear search). */
export function gpuLinearLoss(device: GPUDevice, X: Matrix, outF: number, Y: Float32Array) {
  const T = X.rows;
  const { maxWorkgroupsPerDim } = resolveLimits(device);
  const x = uploadF32(device, X.data);
  const target = uploadF32(device, Y);
  const w = storageBuffer(device, outF * X.cols * 4);
  const y = storageBuffer(device, T * outF * 4);
  const err = storageBuffer(device, T * 4);
  return {
    async sum(q: Float32Array): Promise<number> {
      device.queue.writeBuffer(w, 0, q.buffer, q.byteOffset, q.byteLength);
      const rec = new Recorder(device);
      encodeRowsTimesWeightT(rec, x, w, y, T, outF, X.cols, maxWorkgroupsPerDim);
      encodeRowSquaredError(rec, y, target, err, T, outF, maxWorkgroupsPerDim);
      rec.submit();
      const e = await readF32(device, err, T);
      let total = 0;
      for (let t = 0; t < T; t++) total += e[t];
      return total;
    },
    destroy(): void {
      for (const b of [x, target, w, y, err]) b.destroy();
    },
  };
}
