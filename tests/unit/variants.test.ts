import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/lib/compress/reference/settings';
import { PAPER_GRID, parseVariant, parseVariants, specOf, variantId, variantRecord, variantSpec } from '../../src/lib/variants/spec';

describe('variant ids', () => {
  it('parses quantization and pruning settings', () => {
    expect(parseVariant('gptq3')).toMatchObject({ method: 'gptq', settings: { bits: 3 }, label: 'GPTQ-3' });
    expect(parseVariant('AWQ4g64')).toMatchObject({ id: 'awq4g64', method: 'awq', settings: { bits: 4, groupSize: 64 } });
    expect(parseVariant('wanda2:4')).toMatchObject({ method: 'wanda', settings: { sparsity: { n: 2, m: 4 } }, label: 'Wanda 2:4' });
    expect(parseVariant('sparsegpt0.5')).toMatchObject({
      method: 'sparsegpt',
      settings: { sparsity: { ratio: 0.5 } },
      label: 'SparseGPT 50%',
    });
    expect(parseVariant('dense').method).toBe('dense');
  });
  it('holds the settings the compressor runs with, resolved once', () => {
    expect(parseVariant('gptq3').settings).toEqual(resolveSettings({ method: 'gptq', bits: 3 }));
    expect(parseVariant('awq4g64').settings).toEqual(resolveSettings({ method: 'awq', bits: 4, groupSize: 64 }));
    expect(parseVariant('dense').settings).toBeUndefined();
  });
  it('refuses what it cannot run, saying what it accepts', () => {
    expect(() => parseVariant('gptq2')).toThrow(/rtn\|gptq\|awq followed by 3, 4 or 8/);
    expect(() => parseVariant('wanda4:2')).toThrow(/0 < N < M/);
    expect(() => parseVariants('rtn4,rtn4')).toThrow(/twice/);
  });
  it('always includes dense, first, and knows the paper grid', () => {
    expect(parseVariants('rtn4,gptq3').map((v) => v.id)).toEqual(['dense', 'rtn4', 'gptq3']);
    expect(parseVariants(PAPER_GRID)).toHaveLength(13);
    expect(parseVariants('paper').map((v) => v.id)).toEqual(PAPER_GRID.split(','));
    expect(parseVariants('dense,paper').map((v) => v.id)).toEqual(PAPER_GRID.split(','));
  });
  it('formats settings back to the id and label the parser reads', () => {
    for (const id of [...PAPER_GRID.split(','), 'gptq4g64', 'magnitude4:8', 'sparsegpt0.5']) {
      const spec = parseVariant(id);
      expect(variantId(spec.settings)).toBe(id);
      expect(variantSpec(spec.settings)).toEqual(spec);
    }
  });
  it('writes plan records in the shape plan files have always had, and reads them back', () => {
    expect(variantRecord(parseVariant('dense'))).toEqual({ id: 'dense', label: 'Dense', method: 'dense' });
    expect(variantRecord(parseVariant('gptq3'))).toEqual({ id: 'gptq3', label: 'GPTQ-3', method: 'gptq', bits: 3 });
    expect(variantRecord(parseVariant('awq4g64'))).toEqual({ id: 'awq4g64', label: 'AWQ-4 g64', method: 'awq', bits: 4, groupSize: 64 });
    expect(variantRecord(parseVariant('gptq4g128'))).toEqual({
      id: 'gptq4g128',
      label: 'GPTQ-4 g128',
      method: 'gptq',
      bits: 4,
      groupSize: 128,
    });
    expect(variantRecord(parseVariant('wanda2:4'))).toEqual({ id: 'wanda2:4', label: 'Wanda 2:4', method: 'wanda', sparsity: '2:4' });
    expect(variantRecord(parseVariant('sparsegpt.5'))).toEqual({
      id: 'sparsegpt.5',
      label: 'SparseGPT 50%',
      method: 'sparsegpt',
      sparsity: '.5',
    });
    expect(Object.keys(variantRecord(parseVariant('awq4g64')))).toEqual(['id', 'label', 'method', 'bits', 'groupSize']);
    const record = { id: 'gptq3', label: 'GPTQ-3', method: 'gptq' as const, bits: 3 as const };
    expect(specOf(record)).toEqual(parseVariant('gptq3'));
    expect(variantRecord(record)).toEqual(record);
  });
});
