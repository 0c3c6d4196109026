import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addBiasReference,
  addReference,
  attentionReference,
  encodeAdd,
  encodeAddBias,
  encodeAttention,
  encodeGate,
  encodeLinear,
  encodeRmsNorm,
  encodeRope,
  encodeRowSquaredError,
  gateReference,
  rmsNormReference,
  ropeReference,
  rowSquaredErrorReference,
  type Activation,
} from '../../../src/lib/gpu/block-ops';
import { requestDevice } from '../../../src/lib/gpu/device';
import { gemmReference } from '../../../src/lib/gpu/gemm';
import { readF32, Recorder, uploadF32 } from '../../../src/lib/gpu/kernel';
import { normals } from '../../unit/compress/fixtures';
import { relDiff } from '../compress/compare';

/**
 * Each kernel of the WGSL block forward against its TypeScript reference (fp32 in the kernel's
 * operation order). exp, tanh and sqrt are the adapter's own, so results agree to a few ulps
 * rather than bit for bit.
 */
const TOL = 2e-6;
/** A maximum workgroup count per dimension small enough to split launches into several grids. */
const SPLIT = 3;

let device: GPUDevice;
beforeAll(async () => {
  device = await requestDevice();
});
afterAll(() => device?.destroy());

async function run(record: (rec: Recorder) => void, out: GPUBuffer, n: number): Promise<Float32Array> {
  const rec = new Recorder(device);
  record(rec);
  rec.submit();
  return readF32(device, out, n);
}

describe('block forward kernels against their TypeScript references', () => {
  it.each([0, 1])('rmsnorm with offset %i, rows split over several grids', async (offset) => {
    const rows = 300;
    const width = 40;
    const x = normals(rows * width, 1, 3);
    const gamma = normals(width, 2, 0.3);
    const want = new Float32Array(rows * width);
    rmsNormReference({ x, gamma, y: want, rows, width, eps: 1e-6, offset });
    const y = uploadF32(device, new Float32Array(rows * width));
    const got = await run(
      (rec) => encodeRmsNorm(rec, { x: uploadF32(device, x), gamma: uploadF32(device, gamma), y, rows, width, eps: 1e-6, offset }, SPLIT),
      y,
      rows * width,
    );
    expect(relDiff(got, want)).toBeLessThanOrEqual(TOL);
    // The offset is applied: the other one gives a different result.
    const other = new Float32Array(rows * width);
    rmsNormReference({ x, gamma, y: other, rows, width, eps: 1e-6, offset: 1 - offset });
    expect(relDiff(got, other)).toBeGreaterThan(0.1);
  });

  it('rope on two samples of 9 positions, 3 heads', async () => {
    const seqLen = 9;
    const rows = 2 * seqLen;
    const heads = 3;
    const half = 4;
    const x = normals(rows * heads * 2 * half, 3);
    const cos = Float32Array.from({ length: seqLen * half }, (_, i) => Math.cos(i * 0.7));
    const sin = Float32Array.from({ length: seqLen * half }, (_, i) => Math.sin(i * 0.7));
    const want = x.slice();
    ropeReference({ x: want, cos, sin, rows, heads, half, seqLen });
    const xb = uploadF32(device, x);
    const got = await run(
      (rec) => encodeRope(rec, { x: xb, cos: uploadF32(device, cos), sin: uploadF32(device, sin), rows, heads, half, seqLen }, SPLIT),
      xb,
      x.length,
    );
    expect(relDiff(got, want)).toBeLessThanOrEqual(TOL);
    expect(relDiff(got, x)).toBeGreaterThan(0.1);
  });

  it.each([
    { window: 0, softcap: 0 },
    { window: 5, softcap: 0 },
    { window: 0, softcap: 2 },
  ])('attention with GQA, window $window, softcap $softcap', async ({ window, softcap }) => {
    const seqLen = 13;
    const rows = 3 * seqLen;
    const [heads, kvHeads, headDim] = [4, 2, 8];
    const q = normals(rows * heads * headDim, 4, 2);
    const k = normals(rows * kvHeads * headDim, 5, 2);
    const v = normals(rows * kvHeads * headDim, 6);
    const args = { rows, seqLen, heads, kvHeads, headDim, window, scale: 0.3, softcap };
    const want = new Float32Array(rows * heads * headDim);
    attentionReference({ ...args, q, k, v, out: want });
    const out = uploadF32(device, new Float32Array(want.length));
    const got = await run(
      (rec) => encodeAttention(rec, { ...args, q: uploadF32(device, q), k: uploadF32(device, k), v: uploadF32(device, v), out }, SPLIT),
      out,
      want.length,
    );
    expect(relDiff(got, want)).toBeLessThanOrEqual(TOL);
    // The mask matters: attending to every key of the sample gives something else.
    if (window > 0) {
      const unmasked = new Float32Array(want.length);
      attentionReference({ ...args, window: 0, q, k, v, out: unmasked });
      expect(relDiff(got, unmasked)).toBeGreaterThan(0.01);
    }
  });

  it('residual add, bias add and the per-row squared error', async () => {
    const [rows, cols] = [70, 11];
    const x = normals(rows * cols, 7);
    const y = normals(rows * cols, 8);
    const bias = normals(cols, 9);
    const yb = uploadF32(device, y);
    const wantAdd = y.slice();
    addReference(x, wantAdd, rows * cols);
    expect(relDiff(await run((rec) => encodeAdd(rec, uploadF32(device, x), yb, rows * cols, SPLIT), yb, rows * cols), wantAdd)).toBe(0);
    const wantBias = wantAdd.slice();
    addBiasReference(bias, wantBias, rows, cols);
    const gotBias = await run((rec) => encodeAddBias(rec, uploadF32(device, bias), yb, rows, cols, SPLIT), yb, rows * cols);
    expect(relDiff(gotBias, wantBias)).toBe(0);
    const wantErr = new Float32Array(rows);
    rowSquaredErrorReference(x, y, wantErr, rows, cols);
    const err = uploadF32(device, new Float32Array(rows));
    const gotErr = await run(
      (rec) => encodeRowSquaredError(rec, uploadF32(device, x), uploadF32(device, y), err, rows, cols, SPLIT),
      err,
      rows,
    );
    expect(relDiff(gotErr, wantErr)).toBeLessThanOrEqual(TOL);
  });

  it.each(['silu', 'gelu_tanh'] as Activation[])('gated activation %s, large |x| included', async (act) => {
    const n = 500;
    const gate = normals(n, 10, 4);
    gate[0] = 60;
    gate[1] = -60;
    const up = normals(n, 11);
    const want = gate.slice();
    gateReference(up, want, n, act);
    const gb = uploadF32(device, gate);
    const got = await run((rec) => encodeGate(rec, uploadF32(device, up), gb, n, act, SPLIT), gb, n);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relDiff(got, want)).toBeLessThanOrEqual(TOL);
  });

  it('a linear reads W [out, in] transposed ([in, out]) and ignores what its output buffer held', async () => {
    const [rows, inF, outF] = [37, 20, 45];
    const x = normals(rows * inF, 12);
    const wt = normals(inF * outF, 13);
    const want = new Float32Array(rows * outF);
    gemmReference({
      m: rows,
      n: outF,
      k: inF,
      a: { buf: x, off: 0, rs: inF, cs: 1 },
      b: { buf: wt, off: 0, rs: outF, cs: 1 },
      c: { buf: want, off: 0, rs: outF },
      alpha: 0,
      beta: 1,
    });
    const y = uploadF32(device, new Float32Array(rows * outF).fill(Infinity));
    const got = await run(
      (rec) => encodeLinear(rec, uploadF32(device, x), uploadF32(device, wt), y, rows, inF, outF, SPLIT),
      y,
      rows * outF,
    );
    expect(relDiff(got, want)).toBeLessThanOrEqual(TOL);
  });
});
