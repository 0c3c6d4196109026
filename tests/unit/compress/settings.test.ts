import { describe, expect, it } from 'vitest';
import { parseSparsity, resolveSettings, settingsLabel, settingsSlug, SettingsError } from '../../../src/lib/compress/reference/settings';
import { checkStructure, maxDistinctPerGroup, nmViolation } from '../../../src/lib/compress/reference/structure';
import { matrix } from '../../../src/lib/compress/reference/types';
import { defaultCalibrationSize, documents, tokenWindows } from '../../../src/lib/variants/calibration';
import { BUILTIN_CALIBRATION } from '../../../src/lib/variants/builtin-text';
import { idealBytes, variantKey } from '../../../src/lib/variants/store';
import { tinySpec } from './tiny-model';

describe('compression settings', () => {
  it('fills in the defaults of each method', () => {
    expect(resolveSettings({ method: 'gptq' })).toEqual({
      method: 'gptq',
      bits: 4,
      groupSize: 128,
      sym: true,
      actOrder: false,
      percdamp: 0.01,
      blockSize: 128,
    });
    expect(resolveSettings({ method: 'awq', bits: 3 })).toMatchObject({ sym: false, groupSize: 128 });
    expect(resolveSettings({ method: 'wanda' })).toEqual({ method: 'wanda', sparsity: { n: 2, m: 4 }, percdamp: 0.01, blockSize: 128 });
  });

  it('refuses what does not fit the method, naming the field', () => {
    expect(() => resolveSettings({ method: 'rtn', bits: 5 })).toThrow(/bits must be 3, 4 or 8/);
    expect(() => resolveSettings({ method: 'magnitude', bits: 4 })).toThrow(SettingsError);
    expect(() => resolveSettings({ method: 'gptq', sparsity: { n: 2, m: 4 } })).toThrow(/--sparsity belongs to/);
    expect(() => resolveSettings({ method: 'awq', actOrder: true })).toThrow(/act-order applies to GPTQ only/);
    expect(() => resolveSettings({ method: 'sparsegpt', sparsity: { n: 2, m: 3 }, blockSize: 128 })).toThrow(/multiple of M/);
    expect(() => resolveSettings({ method: 'nope' as 'rtn' })).toThrow(/unknown method "nope"/);
  });

  it('parses sparsity, and names variants by their settings', () => {
    expect(parseSparsity('2:4')).toEqual({ n: 2, m: 4 });
    expect(parseSparsity('0.5')).toEqual({ ratio: 0.5 });
    expect(() => parseSparsity('5:4')).toThrow(SettingsError);
    expect(() => parseSparsity('half')).toThrow(/N:M/);
    const g = resolveSettings({ method: 'gptq', bits: 3, groupSize: 64 });
    expect(settingsLabel(g)).toBe('GPTQ-3 g64');
    expect(settingsSlug(g)).toBe('gptq-w3-g64-sym');
    expect(settingsLabel(resolveSettings({ method: 'sparsegpt' }))).toBe('SparseGPT 2:4');
    expect(settingsLabel(resolveSettings({ method: 'wanda', sparsity: { ratio: 0.5 } }))).toBe('Wanda 50%');
    expect(variantKey('url:http://x/stories260k', g, 'self-8x64-s0')).toBe('variant:url:http://x/stories260k:gptq-w3-g64-sym.self-8x64-s0');
  });

  it('ideal sizes: bits per weight plus group scales; kept values plus index bits', () => {
    expect(idealBytes(64, 128, resolveSettings({ method: 'rtn', bits: 4, groupSize: 64 }), 64)).toBe(64 * 64 + 64 * 2 * 4);
    expect(idealBytes(64, 128, resolveSettings({ method: 'magnitude' }), 0)).toBe(64 * 64 * 4 + (64 * 64 * 2) / 8);
  });
});

describe('structure checks', () => {
  it('N:M: exactly N zeros in every group of M along the input dimension', () => {
    const ok = matrix(2, 8, Float32Array.from([0, 1, 0, 2, 3, 0, 0, 4, 1, 0, 0, 1, 0, 0, 5, 6]));
    expect(nmViolation(ok, 2, 4)).toBeNull();
    const bad = matrix(2, 8, Float32Array.from([0, 1, 0, 2, 3, 0, 7, 4, 1, 0, 0, 1, 0, 0, 5, 6]));
    expect(nmViolation(bad, 2, 4)).toBe('row 0, inputs 4…7: 1 zeros, expected 2');
    expect(checkStructure(bad, { kind: 'prune', sparsity: { n: 2, m: 4 } }).problem).toMatch(/row 0/);
  });

  it('quantized: at most 2^bits distinct values per (row, group)', () => {
    const W = matrix(1, 8, Float32Array.from([1, 2, 3, 4, 1, 1, 1, 2]));
    expect(maxDistinctPerGroup(W, 4)).toBe(4);
    expect(maxDistinctPerGroup(W, 0)).toBe(4);
    expect(checkStructure(W, { kind: 'quant', bits: 1, groupSize: 4 }).problem).toMatch(/4 distinct values/);
    expect(checkStructure(W, { kind: 'quant', bits: 2, groupSize: 4 }).problem).toBeNull();
    // Non-contiguous groups (act-order g_idx).
    expect(maxDistinctPerGroup(W, 4, Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]))).toBe(3);
  });

  it('counts distinct values per group as a Set does: ±0 and NaNs each one value, any group layout', () => {
    /** The count the slow way: a Set per (row, group). */
    const bySets = (W: ReturnType<typeof matrix>, groupSize: number, gIdx?: Int32Array) => {
      const gs = groupSize > 0 && groupSize < W.cols ? groupSize : W.cols;
      let worst = 0;
      for (let r = 0; r < W.rows; r++) {
        const sets = new Map<number, Set<number>>();
        for (let j = 0; j < W.cols; j++) {
          const g = gIdx ? gIdx[j] : Math.floor(j / gs);
          if (!sets.has(g)) sets.set(g, new Set());
          sets.get(g)!.add(W.data[r * W.cols + j]);
        }
        for (const s of sets.values()) worst = Math.max(worst, s.size);
      }
      return worst;
    };
    let x = 11;
    const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const [rows, cols, levels] of [
      [3, 300, 5],
      [7, 256, 16],
      [4, 200, 300],
      [2, 64, 2],
    ]) {
      const data = Float32Array.from({ length: rows * cols }, () => (Math.floor(rand() * levels) - levels / 2) * 0.37);
      // Signed zeros and NaNs in a few places.
      data[3] = -0;
      data[5] = 0;
      // NaNs of other payloads and signs, written as bits.
      const raw = new Uint32Array(data.buffer);
      raw[cols + 1] = 0x7fc00001;
      raw[cols + 2] = 0xffc00000;
      data[cols + 3] = NaN;
      const W = matrix(rows, cols, data);
      const perm = Int32Array.from({ length: cols }, () => Math.floor(rand() * Math.ceil(cols / 64)));
      for (const gs of [0, 32, 64, 128, 1000])
        expect(maxDistinctPerGroup(W, gs), `${rows}×${cols}, ${levels} levels, g${gs}`).toBe(bySets(W, gs));
      expect(maxDistinctPerGroup(W, 64, perm)).toBe(bySets(W, 64, perm));
    }
  });

  it('unstructured: the achieved ratio', () => {
    const W = matrix(1, 10, Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]));
    expect(checkStructure(W, { kind: 'prune', sparsity: { ratio: 0.4 } }).problem).toBeNull();
    expect(checkStructure(W, { kind: 'prune', sparsity: { ratio: 0.6 } }).problem).toMatch(/only 40.00% zeros/);
  });
});

describe('calibration', () => {
  it('the built-in set is ~30 paragraphs of original text', () => {
    expect(BUILTIN_CALIBRATION.length).toBeGreaterThanOrEqual(30);
    for (const p of BUILTIN_CALIBRATION) expect(p.split(' ').length).toBeGreaterThan(30);
  });

  it('defaults: 128 × 512 for 1B+ parameters, fewer samples for small models, length clipped to the context', () => {
    expect(defaultCalibrationSize(tinySpec())).toEqual({ samples: 8, seqLen: 64 });
    const big = tinySpec({
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 24,
      num_attention_heads: 16,
      num_key_value_heads: 16,
      head_dim: 128,
      max_position_embeddings: 4096,
      vocab_size: 32000,
    });
    expect(defaultCalibrationSize(big)).toEqual({ samples: 128, seqLen: 512 });
  });

  it('token windows: seeded, of the asked length, shortened to a short text with a note', () => {
    const tok = { encode: (t: string) => Array.from(t, (c) => c.charCodeAt(0)) };
    const docs = documents('first paragraph\n\nsecond one here\n \nthird');
    expect(docs).toEqual(['first paragraph', 'second one here', 'third']);
    const a = tokenWindows(tok, docs, { samples: 4, seqLen: 8 }, 1);
    expect(a.ids).toHaveLength(4);
    expect(a.ids.every((w) => w.length === 8)).toBe(true);
    expect(tokenWindows(tok, docs, { samples: 4, seqLen: 8 }, 1).ids).toEqual(a.ids);
    expect(tokenWindows(tok, docs, { samples: 4, seqLen: 8 }, 2).ids).not.toEqual(a.ids);
    const short = tokenWindows(tok, ['abc'], { samples: 2, seqLen: 8 }, 1);
    expect(short.seqLen).toBe(3);
    expect(short.notes[0]).toMatch(/only 3 tokens/);
  });
});
