import type { QuantizedMatrix } from '../compress/reference/quantizer';
import { FLOAT16_MAX, float32ToFloat16Bits } from '../onnx/float16';

/**
 * A quantized linear in the tensor layout of GPTQ checkpoints (AutoGPTQ / GPTQModel, which
 * transformers loads for `quant_method: "gptq"`), for the `gptq/` folder of an export:
 * - `qweight` int32 [K·bits/32, N]: codes packed along the input dimension, value k of a word at
 *   bits [k·bits, (k+1)·bits), the lowest first;
 * - `qzeros` int32 [groups, N·bits/32]: zero points packed the same way along the output dimension;
 *   the original format (`checkpoint_format: "gptq"`) stores zero − 1, `gptq_v2` the zero itself;
 * - `scales` fp16 [groups, N];
 * - `g_idx` int32 [K]: the group of each input column.
 * A weight is then (code − zero) · scale, as our `QuantizedMatrix` defines it.
 */
export interface GptqTensors {
  bits: number;
  K: number;
  N: number;
  groups: number;
  qweight: Int32Array;
  /** Unpacked zero points [groups, N]: packed at the end, once the format of the whole file is known. */
  zeros: Uint8Array;
  /** fp16 bits [groups, N]. */
  scales: Uint16Array;
  gIdx: Int32Array;
}

export type GptqFormat = 'gptq' | 'gptq_v2';

/** What became of a quantized variant's GPTQ checkpoint (`gptq/`): its format and size, or why there is none. */
export type GptqExport = { format: GptqFormat; bytes: number } | { refused: string };

/** Bit widths whose codes fill whole int32 words (3 bits straddles words and is not exported). */
export const GPTQ_BITS = [2, 4, 8] as const;

/** Why a quantized linear cannot be written in the GPTQ layout, or null. */
export function gptqRefusal(q: QuantizedMatrix): string | null {
  const { rows: N, cols: K } = q.weight;
  if (!(GPTQ_BITS as readonly number[]).includes(q.bits))
    return `${q.bits}-bit codes are not exported in the GPTQ layout (only ${GPTQ_BITS.join(', ')} bits pack into whole int32 words)`;
  const perWord = 32 / q.bits;
  if (K % perWord !== 0 || N % perWord !== 0)
    return `a ${N}×${K} linear does not pack into int32 words of ${perWord} ${q.bits}-bit values along both dimensions`;
  for (const s of q.scales) if (!(Math.abs(s) < FLOAT16_MAX)) return `a scale of ${s} does not fit the fp16 scales of the GPTQ layout`;
  return null;
}

/** The GPTQ tensors of a quantized linear (check `gptqRefusal` first). */
export function gptqTensors(q: QuantizedMatrix): GptqTensors {
  const { rows: N, cols: K } = q.weight;
  const { bits, groups, groupSize } = q;
  const perWord = 32 / bits;
  const qweight = new Int32Array((K / perWord) * N);
  for (let n = 0; n < N; n++) {
    const row = n * K;
    for (let w = 0; w < K / perWord; w++) {
      let word = 0;
      for (let k = 0; k < perWord; k++) word |= q.codes[row + w * perWord + k] << (k * bits);
      qweight[w * N + n] = word;
    }
  }
  // Ours are [N, groups]; GPTQ's are [groups, N].
  const zeros = new Uint8Array(groups * N);
  const scales = new Uint16Array(groups * N);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < groups; g++) {
      zeros[g * N + n] = q.zeros[n * groups + g];
      scales[g * N + n] = float32ToFloat16Bits(q.scales[n * groups + g]);
    }
  const gIdx = q.gIdx ? Int32Array.from(q.gIdx) : Int32Array.from({ length: K }, (_, j) => Math.floor(j / groupSize));
  return { bits, K, N, groups, qweight, zeros, scales, gIdx };
}

/** The format a file must use: the original stores zero − 1, which a zero point of 0 cannot survive. */
export function gptqFormatFor(minZero: number): GptqFormat {
  return minZero >= 1 ? 'gptq' : 'gptq_v2';
}

/** `qzeros` of `t` in `format`. */
export function packZeros(t: GptqTensors, format: GptqFormat): Int32Array {
  const { bits, N, groups, zeros } = t;
  const perWord = 32 / bits;
  const mask = (1 << bits) - 1;
  const shift = format === 'gptq' ? 1 : 0;
  const out = new Int32Array(groups * (N / perWord));
  for (let g = 0; g < groups; g++)
    for (let w = 0; w < N / perWord; w++) {
      let word = 0;
      for (let k = 0; k < perWord; k++) word |= ((zeros[g * N + w * perWord + k] - shift) & mask) << (k * bits);
      out[g * (N / perWord) + w] = word;
    }
  return out;
}

/** `quantization_config` of a GPTQ checkpoint's config.json. */
export function gptqQuantizationConfig(opts: {
  bits: number;
  /** As in our settings: 0 is one group per row. */
  groupSize: number;
  sym: boolean;
  actOrder: boolean;
  format: GptqFormat;
}): Record<string, unknown> {
  return {
    quant_method: 'gptq',
    bits: opts.bits,
    // GPTQ's per-channel quantization (one group per row) is group size −1.
    group_size: opts.groupSize > 0 ? opts.groupSize : -1,
    desc_act: opts.actOrder,
    sym: opts.sym,
    checkpoint_format: opts.format,
    true_sequential: true,
  };
}
