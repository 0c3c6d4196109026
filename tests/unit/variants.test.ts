import { describe, expect, it } from 'vitest';
import { PAPER_GRID, parseVariant, parseVariants } from '../../src/lib/run/variants';

describe('variant ids', () => {
  it('parses quantization and pruning settings', () => {
    expect(parseVariant('gptq3')).toMatchObject({ method: 'gptq', bits: 3, label: 'GPTQ-3' });
    expect(parseVariant('AWQ4g64')).toMatchObject({ id: 'awq4g64', method: 'awq', bits: 4, groupSize: 64 });
    expect(parseVariant('wanda2:4')).toMatchObject({ method: 'wanda', sparsity: '2:4', label: 'Wanda 2:4' });
    expect(parseVariant('sparsegpt0.5')).toMatchObject({ method: 'sparsegpt', sparsity: '0.5', label: 'SparseGPT 50%' });
    expect(parseVariant('dense').method).toBe('dense');
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
});
