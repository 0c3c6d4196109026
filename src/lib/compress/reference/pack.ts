import type { QuantizedMatrix } from './quantizer';
import { f32 } from './types';

/**
 * onnxruntime `com.microsoft::MatMulNBits` weight layout, W [N, K] = [out, in]:
 * - `B`: uint8 [N, blocks, blockSize·bits/8], blocks = ⌈K / blockSize⌉; 4-bit puts the even k
 *   of each byte pair in the low nibble.
 * - `scales`: fp32 [N·blocks].
 * - `zeroPoints` (optional): 8-bit: uint8 [N·blocks]; 4-bit: uint8 [N, ⌈blocks/2⌉], even block
 *   in the low nibble, each row padded to whole bytes. Absent means 2^(bits−1).
 * - value = (code − zero) · scale. K is padded to whole blocks with zero weights, i.e. with the
 *   block's zero point as the code (the padding is never read, K is an attribute).
 * The same layout as `src/lib/onnx/matmul-nbits.ts`; `shaders/pack.wgsl` is the GPU version.
 */
export type PackBits = 4 | 8;

export interface PackedNBits {
  bits: PackBits;
  blockSize: number;
  N: number;
  K: number;
  B: Uint8Array;
  scales: Float32Array;
  zeroPoints?: Uint8Array;
}

export function blockBytes(blockSize: number, bits: PackBits): number {
  return (blockSize * bits) / 8;
}

export function zeroPointRowBytes(blocks: number, bits: PackBits): number {
  return Math.ceil((blocks * bits) / 8);
}

export function checkPackShape(N: number, K: number, bits: number, blockSize: number): asserts bits is PackBits {
  if (bits !== 4 && bits !== 8) throw new Error(`MatMulNBits packing supports 4 and 8 bits, got ${bits}`);
  if (!Number.isInteger(blockSize) || blockSize < 2 || (blockSize * bits) % 8 !== 0) {
    throw new Error(`MatMulNBits: block size ${blockSize} does not fill whole bytes at ${bits} bits`);
  }
  if (!(Number.isInteger(N) && Number.isInteger(K) && N > 0 && K > 0)) throw new Error(`MatMulNBits: bad shape N=${N} K=${K}`);
}

/** Packs unsigned codes [N, K] with per-(row, block) scales and optional unsigned zero points. */
export function packNBits(
  codes: Uint8Array,
  N: number,
  K: number,
  bits: number,
  blockSize: number,
  scales: Float32Array,
  zeros?: Uint8Array,
): PackedNBits {
  checkPackShape(N, K, bits, blockSize);
  const blocks = Math.ceil(K / blockSize);
  if (codes.length !== N * K) throw new Error(`pack: expected ${N * K} codes, got ${codes.length}`);
  if (scales.length !== N * blocks) throw new Error(`pack: expected ${N * blocks} scales, got ${scales.length}`);
  if (zeros && zeros.length !== N * blocks) throw new Error(`pack: expected ${N * blocks} zero points, got ${zeros.length}`);
  const bb = blockBytes(blockSize, bits);
  const B = new Uint8Array(N * blocks * bb);
  const dflt = 1 << (bits - 1);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const zp = zeros ? zeros[n * blocks + b] : dflt;
      const base = (n * blocks + b) * bb;
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i;
        const code = k < K ? codes[n * K + k] : zp;
        if (bits === 8) B[base + i] = code;
        else B[base + (i >> 1)] |= (code & 15) << ((i & 1) * 4);
      }
    }
  }
  let zeroPoints: Uint8Array | undefined;
  if (zeros) {
    const rowBytes = zeroPointRowBytes(blocks, bits);
    zeroPoints = new Uint8Array(N * rowBytes);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < blocks; b++) {
        const z = zeros[n * blocks + b];
        if (bits === 8) zeroPoints[n * rowBytes + b] = z;
        else zeroPoints[n * rowBytes + (b >> 1)] |= (z & 15) << ((b & 1) * 4);
      }
    }
  }
  return { bits, blockSize, N, K, B, scales: scales.slice(), zeroPoints };
}

export interface PackQuantizedOptions {
  /** 'auto' (default) stores zero points only when some differ from 2^(bits−1). */
  zeroPoints?: 'auto' | 'always' | 'never';
}

/**
 * Smallest power of two ≥ 16 holding a whole row: the block size for per-channel (one group
 * per row) weights, since onnxruntime wants power-of-two blocks of at least 16.
 */
export function perChannelBlockSize(K: number): number {
  let b = 16;
  while (b < K) b *= 2;
  return b;
}

/** Packs a 4- or 8-bit `QuantizedMatrix` with contiguous groups (block size = group size). */
export function packQuantized(q: QuantizedMatrix, opts: PackQuantizedOptions = {}): PackedNBits {
  const { rows: N, cols: K } = q.weight;
  if (q.gIdx && q.gIdx.some((g, j) => g !== Math.floor(j / q.groupSize))) {
    throw new Error('pack: groups are not contiguous (GPTQ act_order with groups); MatMulNBits without g_idx cannot hold them');
  }
  const blockSize = q.groups === 1 ? perChannelBlockSize(K) : q.groupSize;
  const dflt = 1 << (q.bits - 1);
  const mode = opts.zeroPoints ?? 'auto';
  if (mode === 'never' && q.zeros.some((z) => z !== dflt)) throw new Error(`pack: zero points differ from the default ${dflt}`);
  const keep = mode === 'always' || (mode === 'auto' && q.zeros.some((z) => z !== dflt));
  return packNBits(q.codes, N, K, q.bits, blockSize, q.scales, keep ? q.zeros : undefined);
}

export function unpackNBits(p: PackedNBits): { codes: Uint8Array; zeros: Uint8Array } {
  const { N, K, bits, blockSize } = p;
  checkPackShape(N, K, bits, blockSize);
  const blocks = Math.ceil(K / blockSize);
  const bb = blockBytes(blockSize, bits);
  const rowBytes = zeroPointRowBytes(blocks, bits);
  const codes = new Uint8Array(N * K);
  const zeros = new Uint8Array(N * blocks).fill(1 << (bits - 1));
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      if (p.zeroPoints) {
        const byte = p.zeroPoints[n * rowBytes + (bits === 8 ? b : b >> 1)];
        zeros[n * blocks + b] = bits === 8 ? byte : (byte >> ((b & 1) * 4)) & 15;
      }
      const base = (n * blocks + b) * bb;
      for (let k = b * blockSize; k < Math.min(K, (b + 1) * blockSize); k++) {
        const i = k - b * blockSize;
        codes[n * K + k] = bits === 8 ? p.B[base + i] : (p.B[base + (i >> 1)] >> ((i & 1) * 4)) & 15;
      }
    }
  }
  return { codes, zeros };
}

/** The fp32 [N, K] weight a packed tensor stands for. */
export function dequantizeNBits(p: PackedNBits): Float32Array {
  const { codes, zeros } = unpackNBits(p);
  const blocks = Math.ceil(p.K / p.blockSize);
  const out = new Float32Array(p.N * p.K);
  for (let n = 0; n < p.N; n++) {
    for (let k = 0; k < p.K; k++) {
      const b = n * blocks + Math.floor(k / p.blockSize);
      out[n * p.K + k] = f32((codes[n * p.K + k] - zeros[b]) * p.scales[b]);
    }
  }
  return out;
}
