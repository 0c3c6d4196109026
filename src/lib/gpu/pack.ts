import gridWgsl from '../../../shaders/grid.wgsl?raw';
import packWgsl from '../../../shaders/pack.wgsl?raw';
import {
  blockBytes,
  checkPackShape,
  perChannelBlockSize,
  zeroPointRowBytes,
  type PackedNBits,
  type PackQuantizedOptions,
} from '../compress/reference/pack';
import type { QuantizedMatrix } from '../compress/reference/quantizer';
import { readBytes, readF32, Recorder, storageBuffer, uploadF32, uploadU32 } from './kernel';
import { GRID_FIELDS, resolveLimits, rowChunks, type GpuTuning } from './limits';
import { defineParams } from './params';
import { composeWgsl } from './shader';

export const PACK_PARAMS = defineParams({
  n: 'u32',
  k: 'u32',
  blocks: 'u32',
  block: 'u32',
  bits: 'u32',
  block_bytes: 'u32',
  total_bytes: 'u32',
  zp_row_bytes: 'u32',
  zp_bytes: 'u32',
  ...GRID_FIELDS,
  lo: 'f32',
});

const PACK_WGSL = composeWgsl(PACK_PARAMS.wgsl, gridWgsl, packWgsl);

export interface PackLaunch {
  /** Unsigned codes, u32 per entry, [N · K]. */
  codes: GPUBuffer;
  /** Interleaved (scale, zero) per (row, block), zero in the clamp domain. */
  qp: GPUBuffer;
  N: number;
  K: number;
  bits: 4 | 8;
  blockSize: number;
  /** The quantizer's lowest integer (zero point = zero − lo). */
  lo: number;
}

export interface PackOutputs {
  B: GPUBuffer;
  bBytes: number;
  zeroPoints: GPUBuffer;
  zpBytes: number;
  scales: GPUBuffer;
}

/** Records the three packing kernels; `zeroPoints` is filled either way (cheap), use it if wanted. */
export function encodePack(rec: Recorder, l: PackLaunch, maxDim: number): PackOutputs {
  checkPackShape(l.N, l.K, l.bits, l.blockSize);
  const { device } = rec;
  const blocks = Math.ceil(l.K / l.blockSize);
  const bb = blockBytes(l.blockSize, l.bits);
  const bBytes = l.N * blocks * bb;
  const zpRow = zeroPointRowBytes(blocks, l.bits);
  const zpBytes = l.N * zpRow;
  const out: PackOutputs = {
    B: storageBuffer(device, bBytes),
    bBytes,
    zeroPoints: storageBuffer(device, zpBytes),
    zpBytes,
    scales: storageBuffer(device, l.N * blocks * 4),
  };
  const fixed = {
    n: l.N,
    k: l.K,
    blocks,
    block: l.blockSize,
    bits: l.bits,
    block_bytes: bb,
    total_bytes: bBytes,
    zp_row_bytes: zpRow,
    zp_bytes: zpBytes,
    lo: l.lo,
  };
  const launch = (entry: string, items: number) =>
    rec.dispatchRange(
      PACK_WGSL,
      PACK_PARAMS,
      fixed,
      Math.ceil(items / 64),
      maxDim,
      [
        { kind: 'read', buffer: l.codes },
        { kind: 'read', buffer: l.qp },
        { kind: 'readwrite', buffer: out.B },
        { kind: 'readwrite', buffer: out.zeroPoints },
        { kind: 'readwrite', buffer: out.scales },
      ],
      entry,
    );
  launch('pack_b', Math.ceil(bBytes / 4));
  launch('pack_zp', Math.ceil(zpBytes / 4));
  launch('pack_scales', l.N * blocks);
  return out;
}

/** GPU twin of `packQuantized` (same options, same bytes). */
export async function packGpu(
  device: GPUDevice,
  q: QuantizedMatrix,
  opts: PackQuantizedOptions = {},
  tuning?: GpuTuning,
): Promise<PackedNBits> {
  const { rows: N, cols: K } = q.weight;
  if (q.bits !== 4 && q.bits !== 8) throw new Error(`MatMulNBits packing supports 4 and 8 bits, got ${q.bits}`);
  if (q.gIdx && q.gIdx.some((g, j) => g !== Math.floor(j / q.groupSize))) {
    throw new Error('pack: groups are not contiguous (GPTQ act_order with groups); MatMulNBits without g_idx cannot hold them');
  }
  const bits = q.bits;
  const blockSize = q.groups === 1 ? perChannelBlockSize(K) : q.groupSize;
  const blocks = Math.ceil(K / blockSize);
  const dflt = 1 << (bits - 1);
  const mode = opts.zeroPoints ?? 'auto';
  if (mode === 'never' && q.zeros.some((z) => z !== dflt)) throw new Error(`pack: zero points differ from the default ${dflt}`);
  const keep = mode === 'always' || (mode === 'auto' && q.zeros.some((z) => z !== dflt));
  const limits = resolveLimits(device, tuning);
  const bb = blockBytes(blockSize, bits);
  const zpRow = zeroPointRowBytes(blocks, bits);
  const B = new Uint8Array(N * blocks * bb);
  const zeroPoints = new Uint8Array(N * zpRow);
  const scales = new Float32Array(N * blocks);
  for (const [r0, r1] of rowChunks(N, K * 4, limits.maxBindingBytes)) {
    const n = r1 - r0;
    const qp = new Float32Array(n * blocks * 2);
    for (let i = 0; i < n * blocks; i++) {
      qp[2 * i] = q.scales[r0 * blocks + i];
      qp[2 * i + 1] = keep ? q.zeros[r0 * blocks + i] : dflt;
    }
    const l: PackLaunch = {
      codes: uploadU32(device, Uint32Array.from(q.codes.subarray(r0 * K, r1 * K))),
      qp: uploadF32(device, qp),
      N: n,
      K,
      bits,
      blockSize,
      lo: 0,
    };
    const rec = new Recorder(device);
    const o = encodePack(rec, l, limits.maxWorkgroupsPerDim);
    rec.submit();
    B.set(await readBytes(device, o.B, o.bBytes), r0 * blocks * bb);
    zeroPoints.set(await readBytes(device, o.zeroPoints, o.zpBytes), r0 * zpRow);
    scales.set(await readF32(device, o.scales, n * blocks), r0 * blocks);
    for (const b of [l.codes, l.qp, o.B, o.zeroPoints, o.scales]) b.destroy();
  }
  return { bits, blockSize, N, K, B, scales, zeroPoints: keep ? zeroPoints : undefined };
}
