/**
 * The weight layout of onnxruntime's `com.microsoft` `MatMulNBits`, with a round-to-nearest
 * packer (RTN, the baseline quantizer) and the exact dequantizer, so graphs can be compared with
 * a dense fp32 copy.
 *
 * Layout for a weight `W` of shape [N, K] (PyTorch Linear: out × in) with `blocks = ceil(K / blockSize)`:
 * - `packed`: uint8 [N, blocks, blockSize·bits/8]; for 4 bits the even k sits in the low nibble.
 * - `scales`: float32 [N·blocks].
 * - `zeroPoints` (optional): 8 bits: uint8 [N·blocks]; 4 bits: uint8 [N, ceil(blocks/2)], the even
 *   block in the low nibble. Absent means the symmetric default 2^(bits−1).
 * - value = (q − zp) · scale. Elements of a partial last block past K hold the zero point.
 */

export type NBits = 4 | 8;

export interface PackedLinear {
  bits: NBits;
  blockSize: number;
  /** Input features (columns of the [N, K] weight). */
  K: number;
  /** Output features. */
  N: number;
  packed: Uint8Array;
  scales: Float32Array;
  zeroPoints?: Uint8Array;
}

export function blocksPerRow(K: number, blockSize: number): number {
  return Math.ceil(K / blockSize);
}

function checkShape(bits: number, blockSize: number, N: number, K: number): void {
  if (bits !== 4 && bits !== 8) throw new Error(`MatMulNBits: bits must be 4 or 8, got ${bits}`);
  // onnxruntime requires a power of two of at least 16.
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)) {
    throw new Error(`MatMulNBits: block size must be a power of two >= 16, got ${blockSize}`);
  }
  if (!(N > 0 && K > 0 && Number.isInteger(N) && Number.isInteger(K))) throw new Error(`MatMulNBits: bad shape N=${N} K=${K}`);
}

/** Byte size of one row of packed zero points. */
export function zeroPointRowBytes(blocks: number, bits: NBits): number {
  return Math.ceil((blocks * bits) / 8);
}

/**
 * Packs integer codes `q` ([N, K], each in [0, 2^bits)) with per-block `scales` ([N·blocks]) and
 * optional per-block zero points ([N·blocks], unpacked) into the MatMulNBits layout. For
 * quantizers (GPTQ, AWQ) that choose codes themselves.
 */
export function packMatMulNBitsCodes(
  q: Uint8Array,
  N: number,
  K: number,
  bits: NBits,
  blockSize: number,
  scales: Float32Array,
  zeroPoints?: Uint8Array,
): PackedLinear {
  checkShape(bits, blockSize, N, K);
  const blocks = blocksPerRow(K, blockSize);
  if (q.length !== N * K) throw new Error(`codes: expected ${N * K} values, got ${q.length}`);
  if (scales.length !== N * blocks) throw new Error(`scales: expected ${N * blocks} values, got ${scales.length}`);
  if (zeroPoints && zeroPoints.length !== N * blocks)
    throw new Error(`zero points: expected ${N * blocks} values, got ${zeroPoints.length}`);
  const blobBytes = (blockSize * bits) / 8;
  const packed = new Uint8Array(N * blocks * blobBytes);
  const defaultZp = 1 << (bits - 1);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const zp = zeroPoints ? zeroPoints[n * blocks + b] : defaultZp;
      const base = (n * blocks + b) * blobBytes;
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i;
        const code = k < K ? q[n * K + k] : zp;
        if (bits === 8) packed[base + i] = code;
        else packed[base + (i >> 1)] |= (code & 0xf) << ((i & 1) * 4);
      }
    }
  }
  let zpPacked: Uint8Array | undefined;
  if (zeroPoints) {
    if (bits === 8) zpPacked = zeroPoints.slice();
    else {
      const rowBytes = zeroPointRowBytes(blocks, bits);
      zpPacked = new Uint8Array(N * rowBytes);
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < blocks; b++) zpPacked[n * rowBytes + (b >> 1)] |= (zeroPoints[n * blocks + b] & 0xf) << ((b & 1) * 4);
      }
    }
  }
  return { bits, blockSize, K, N, packed, scales: scales.slice(), zeroPoints: zpPacked };
}

/** Round half to even, as torch.round and numpy.round do. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Round-to-nearest blockwise quantization of `weight` ([N, K], row-major) into MatMulNBits form.
 * Symmetric: scale = (the block's value of largest magnitude) / −2^(bits−1), so that value maps
 * to code 0 exactly, zero point 2^(bits−1) (left implicit), as onnxruntime's own quantizer does.
 * Asymmetric: range [min(0, lo), max(0, hi)] over 2^bits − 1 steps, zero point stored.
 */
export function packMatMulNBits(weight: Float32Array, N: number, K: number, bits: NBits, blockSize: number, sym: boolean): PackedLinear {
  checkShape(bits, blockSize, N, K);
  if (weight.length !== N * K) throw new Error(`weight: expected ${N * K} values, got ${weight.length}`);
  const blocks = blocksPerRow(K, blockSize);
  const qmax = (1 << bits) - 1;
  const codes = new Uint8Array(N * K);
  const scales = new Float32Array(N * blocks);
  const zps = sym ? undefined : new Uint8Array(N * blocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let zp: number;
      let scale: number;
      if (sym) {
        let extreme = 0;
        for (let k = k0; k < k1; k++) {
          const v = weight[n * K + k];
          if (Math.abs(v) > Math.abs(extreme)) extreme = v;
        }
        zp = 1 << (bits - 1);
        scale = Math.fround(extreme / -zp);
      } else {
        let lo = 0;
        let hi = 0;
        for (let k = k0; k < k1; k++) {
          const v = weight[n * K + k];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = Math.fround((hi - lo) / qmax);
        zp = scale === 0 ? 0 : Math.min(qmax, Math.max(0, roundEven(-lo / scale)));
        zps![n * blocks + b] = zp;
      }
      scales[n * blocks + b] = scale;
      for (let k = k0; k < k1; k++) {
        const q = scale === 0 ? zp : roundEven(weight[n * K + k] / scale) + zp;
        codes[n * K + k] = Math.min(qmax, Math.max(0, q));
      }
    }
  }
  return packMatMulNBitsCodes(codes, N, K, bits, blockSize, scales, zps);
}

/** Unpacks the integer codes ([N, K]) and per-block zero points ([N·blocks]) of a packed weight. */
export function unpackMatMulNBits(p: PackedLinear): { codes: Uint8Array; zeroPoints: Uint8Array } {
  const { bits, blockSize, K, N } = p;
  checkShape(bits, blockSize, N, K);
  const blocks = blocksPerRow(K, blockSize);
  const blobBytes = (blockSize * bits) / 8;
  if (p.packed.length !== N * blocks * blobBytes)
    throw new Error(`packed: expected ${N * blocks * blobBytes} bytes, got ${p.packed.length}`);
  if (p.scales.length !== N * blocks) throw new Error(`scales: expected ${N * blocks} values, got ${p.scales.length}`);
  const codes = new Uint8Array(N * K);
  const zeroPoints = new Uint8Array(N * blocks).fill(1 << (bits - 1));
  const zpRow = zeroPointRowBytes(blocks, bits);
  if (p.zeroPoints && p.zeroPoints.length !== N * zpRow)
    throw new Error(`zero points: expected ${N * zpRow} bytes, got ${p.zeroPoints.length}`);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      if (p.zeroPoints) {
        zeroPoints[n * blocks + b] =
          bits === 8 ? p.zeroPoints[n * blocks + b] : (p.zeroPoints[n * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 0xf;
      }
      const base = (n * blocks + b) * blobBytes;
      const k1 = Math.min(K, (b + 1) * blockSize);
      for (let k = b * blockSize; k < k1; k++) {
        const i = k - b * blockSize;
        codes[n * K + k] = bits === 8 ? p.packed[base + i] : (p.packed[base + (i >> 1)] >> ((i & 1) * 4)) & 0xf;
      }
    }
  }
  return { codes, zeroPoints };
}

/** The dense [N, K] weight a packed MatMulNBits weight stands for: (q − zp) · scale, in fp32. */
export function dequantizeMatMulNBits(p: PackedLinear): Float32Array {
  const { codes, zeroPoints } = unpackMatMulNBits(p);
  const blocks = blocksPerRow(p.K, p.blockSize);
  const out = new Float32Array(p.N * p.K);
  for (let n = 0; n < p.N; n++) {
    for (let k = 0; k < p.K; k++) {
      const b = Math.floor(k / p.blockSize);
      out[n * p.K + k] = (codes[n * p.K + k] - zeroPoints[n * blocks + b]) * p.scales[n * blocks + b];
    }
  }
  return out;
}
