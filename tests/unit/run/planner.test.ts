import { describe, expect, it } from 'vitest';
import { defaultForm, estimatePlan, formToPlan, formVariants, type PlannerForm } from '../../../src/lib/run/planner';
import { planUnits } from '../../../src/lib/run/units';
import { PAPER_GRID, parseVariant, parseVariants, variantRecord, type VariantRecord } from '../../../src/lib/variants/spec';

const DATA = { kind: 'offline', base: '' } as const;

describe('the planner form', () => {
  it('builds the paper grid as specs with their settings, the same as the ids parse to', () => {
    expect(formVariants(defaultForm())).toEqual(parseVariants(PAPER_GRID));
  });

  it('writes a group size other than the default into the ids', () => {
    const form: PlannerForm = {
      ...defaultForm(),
      groupSize: 64,
      quant: { rtn: [], gptq: [3], awq: [] },
      prune: { magnitude: [], wanda: [], sparsegpt: ['0.5'] },
    };
    expect(formVariants(form)).toEqual(parseVariants('dense,gptq3g64,sparsegpt0.5'));
  });

  it('estimates a plan stored by an earlier version (records without settings) as its specs', () => {
    const plan = formToPlan(defaultForm(), { kind: 'cached', key: 'm' }, DATA);
    const records: VariantRecord[] = plan.variants.map(variantRecord);
    expect(estimatePlan({ ...plan, variants: records }, 1e8)).toEqual(estimatePlan(plan, 1e8));
  });

  it('gives a plan the same id and inputs from specs as from the records plan files hold', () => {
    const inputs = {
      model: 'm',
      perspectives: ['mmlu' as const],
      preset: 'smoke',
      mode: 'generate' as const,
      seeds: [0],
      data: 'offline',
      calibration: { source: 'self', samples: 16, seqLen: 128 },
    };
    const specs = parseVariants('dense,gptq3,awq4g64,wanda2:4');
    const fromSpecs = planUnits({ ...inputs, variants: specs });
    const fromRecords = planUnits({ ...inputs, variants: specs.map(variantRecord) });
    expect(fromSpecs).toEqual(fromRecords);
    expect(fromSpecs.inputs.variants[1]).toEqual({ id: 'gptq3', label: 'GPTQ-3', method: 'gptq', bits: 3 });
    expect(parseVariant(fromSpecs.inputs.variants[2].id)).toEqual(specs[2]);
  });
});
