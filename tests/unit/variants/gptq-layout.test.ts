import { describe, expect, it } from 'vitest';
import { matrix } from '../../../src/lib/compress/reference/types';
import { quantizeRtn, type QuantizedMatrix } from '../../../src/lib/compress/reference/quantizer';
import { gptqFormatFor, gptqQuantizationConfig, gptqRefusal, gptqTensors, packZeros } from '../../../src/lib/variants/gptq-layout';
import { decodeGptq } from '../../reference/gptq-decode';

function randomMatrix(rows: number, cols: number, seed: number) {
  let s = seed;
  const data = new Float32Array(rows * cols).map(() => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  });
  return matrix(rows, cols, data);
}

describe('GPTQ layout', () => {
  it('packs a hand-checked 4-bit example: codes along K, zeros − 1 along N, scales [groups, N]', () => {
    // N = 8 rows (outputs), K = 8 inputs, one group: row n holds codes n, n+1, …, n+7 (mod 16).
    const N = 8;
    const K = 8;
    const codes = Uint8Array.from({ length: N * K }, (_, i) => (Math.floor(i / K) + (i % K)) % 16);
    const q: QuantizedMatrix = {
      weight: matrix(N, K, new Float32Array(N * K)),
      codes,
      scales: Float32Array.from({ length: N }, (_, n) => 0.5 * (n + 1)),
      zeros: Uint8Array.from({ length: N }, (_, n) => n + 1),
      bits: 4,
      groupSize: K,
      groups: 1,
      sym: false,
      variant: 'gptq',
    };
    const t = gptqTensors(q);
    // Column n of qweight packs row n's 8 codes, the first in the lowest nibble: n=0 → 0x76543210.
    expect(t.qweight.length).toBe(N);
    expect(t.qweight[0] >>> 0).toBe(0x76543210);
    expect(t.qweight[1] >>> 0).toBe(0x87654321);
    expect(t.qweight[7] >>> 0).toBe(0xedcba987);
    // Zeros 1…8 stored as 0…7 in one word, the first output in the lowest nibble.
    expect(Array.from(packZeros(t, 'gptq'), (w) => w >>> 0)).toEqual([0x76543210]);
    expect(Array.from(packZeros(t, 'gptq_v2'), (w) => w >>> 0)).toEqual([0x87654321]);
    expect(Array.from(t.scales)).toEqual([0x3800, 0x3c00, 0x3e00, 0x4000, 0x4100, 0x4200, 0x4300, 0x4400]); // 0.5 … 4 in fp16
    expect(Array.from(t.gIdx)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  for (const [bits, sym] of [
    [4, true],
    [4, false],
    [8, false],
    [2, true],
  ] as const) {
    it(`round trip ${bits}-bit ${sym ? 'sym' : 'asym'}: an independent decoder gives the dequantized weights`, () => {
      const N = 32;
      const K = 96;
      const q = quantizeRtn(randomMatrix(N, K, 7 * bits + (sym ? 1 : 0)), { bits, groupSize: 32, sym });
      expect(gptqRefusal(q)).toBeNull();
      const t = gptqTensors(q);
      const format = gptqFormatFor(Math.min(...t.zeros));
      const back = decodeGptq({ ...t, qzeros: packZeros(t, format) }, bits, K, N, format);
      // Scales are fp16 in the layout: a weight may differ from ours by the scale's rounding.
      let worst = 0;
      for (let i = 0; i < back.length; i++) {
        const bound = Math.abs(q.weight.data[i]) * 2 ** -11 + 1e-7;
        worst = Math.max(worst, Math.abs(back[i] - q.weight.data[i]) / bound);
      }
      expect(worst).toBeLessThanOrEqual(1);
      expect(Array.from(t.gIdx.slice(30, 34))).toEqual([0, 0, 1, 1]);
    });
  }

  it('keeps act-order groups (g_idx) and writes v2 when a zero point is 0', () => {
    const N = 8;
    const K = 16;
    const q = quantizeRtn(randomMatrix(N, K, 3), { bits: 4, groupSize: 8, sym: false });
    const gIdx = Int32Array.from({ length: K }, (_, j) => j % 2);
    const zeros = q.zeros.slice();
    zeros[0] = 0;
    const t = gptqTensors({ ...q, zeros, gIdx });
    expect(Array.from(t.gIdx)).toEqual(Array.from(gIdx));
    expect(gptqFormatFor(Math.min(...t.zeros))).toBe('gptq_v2');
    expect(gptqFormatFor(1)).toBe('gptq');
  });

  it('refuses 3 bits and shapes that do not fill int32 words', () => {
    const three = quantizeRtn(randomMatrix(8, 32, 1), { bits: 3, groupSize: 0, sym: true });
    expect(gptqRefusal(three)).toMatch(/3-bit codes are not exported/);
    const odd = quantizeRtn(randomMatrix(12, 32, 1), { bits: 4, groupSize: 0, sym: true });
    expect(gptqRefusal(odd)).toMatch(/does not pack into int32 words/);
  });

  it('quantization_config as transformers reads it', () => {
    expect(gptqQuantizationConfig({ bits: 4, groupSize: 128, sym: true, actOrder: false, format: 'gptq' })).toEqual({
      quant_method: 'gptq',
      bits: 4,
      group_size: 128,
      desc_act: false,
      sym: true,
      checkpoint_format: 'gptq',
      true_sequential: true,
    });
    expect(gptqQuantizationConfig({ bits: 8, groupSize: 0, sym: false, actOrder: true, format: 'gptq_v2' })).toMatchObject({
      group_size: -1,
      desc_act: true,
      checkpoint_format: 'gptq_v2',
    });
  });
});
