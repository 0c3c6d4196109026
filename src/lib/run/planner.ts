import { PERSPECTIVE_IDS, PRESET_NAMES, type PerspectiveId, type ScoringMode } from '../eval';
import { parseSparsity, resolveSettings, type PruneMethod, type QuantMethod } from '../compress/reference/settings';
import type { Device } from '../infer/causal-lm';
import { parseSourceInput } from '../model/source-input';
import { CALIBRATION_DEFAULTS, type CalibrationPlan } from '../variants/calibration';
import { bitsOf, specOf, variantSpec, withDense, type VariantSpec } from '../variants/spec';
import type { DataSource } from './evaluate';
import { compressSeconds, DEFAULT_RATES, PRESET_ITEMS } from './cost-model';
import type { CostRates, RunPlan } from './types';

/** The planner's choices, as the form holds them. */
export interface PlannerForm {
  quant: Record<QuantMethod, (3 | 4 | 8)[]>;
  groupSize: number;
  prune: Record<PruneMethod, string[]>;
  perspectives: PerspectiveId[];
  preset: string;
  mode: ScoringMode | 'both';
  seed: number;
  device: Device | 'auto';
  calibration: CalibrationPlan;
  /** A toxicity classifier (hub id, URL); empty: the offline lexicon proxy. */
  toxicityModel: string;
  /** Prompts per forward pass in evaluation; `auto`: chosen from the model and device. */
  batchSize: 'auto' | number;
}

/** The planner's batch sizes besides `auto`. */
export const BATCH_CHOICES = [1, 2, 4, 8, 16, 32] as const;

export const BIT_CHOICES = [3, 4, 8] as const;
export const SPARSITY_CHOICES = ['2:4', '4:8', '0.5'] as const;
export { PERSPECTIVE_IDS, PRESET_NAMES };

/** The paper's grid on the smallest preset: every method, 3/4/8 bits and 2:4. */
export function defaultForm(): PlannerForm {
  return {
    quant: { rtn: [3, 4, 8], gptq: [3, 4, 8], awq: [3, 4, 8] },
    groupSize: 128,
    prune: { magnitude: ['2:4'], wanda: ['2:4'], sparsegpt: ['2:4'] },
    perspectives: [...PERSPECTIVE_IDS],
    preset: 'smoke',
    mode: 'generate',
    seed: 0,
    device: 'auto',
    calibration: { ...CALIBRATION_DEFAULTS.planner },
    toxicityModel: '',
    batchSize: 'auto',
  };
}

/** Dense and every checked box, each resolved to its settings once, here. */
export function formVariants(form: PlannerForm): VariantSpec[] {
  const specs: VariantSpec[] = [variantSpec()];
  for (const [method, bits] of Object.entries(form.quant) as [QuantMethod, number[]][])
    for (const b of bits) specs.push(variantSpec(resolveSettings({ method, bits: b, groupSize: form.groupSize })));
  for (const [method, sparsities] of Object.entries(form.prune) as [PruneMethod, string[]][])
    for (const s of sparsities) specs.push(variantSpec(resolveSettings({ method, sparsity: parseSparsity(s) })));
  return withDense(specs);
}

export function formToPlan(form: PlannerForm, model: RunPlan['model'], data: DataSource): RunPlan {
  if (form.perspectives.length === 0) throw new Error('Choose at least one perspective');
  return {
    model,
    variants: formVariants(form),
    perspectives: [...form.perspectives],
    preset: form.preset,
    mode: form.mode,
    seed: form.seed,
    data,
    device: form.device,
    calibration: { ...form.calibration },
    ...(form.toxicityModel.trim() ? { toxicityModel: parseSourceInput(form.toxicityModel) } : {}),
    ...(form.batchSize !== 'auto' ? { batchSize: form.batchSize } : {}),
  };
}

export interface PlanEstimate {
  variants: number;
  evaluations: number;
  storageBytes: number;
  minutes: number;
  /** Earlier runs on this profile the time was calibrated on; 0: the built-in guesses. */
  calibratedFrom: number;
}

/**
 * What a plan will cost before it starts: every compressed variant stores its weights (and a
 * low-bit graph for 4/8 bits), every variant gets an fp32 graph when first run. Time comes from
 * `rates` — learned from earlier runs on this machine (`ratesFromHistory`), or the defaults.
 */
export function estimatePlan(plan: RunPlan, modelBytes: number, rates: CostRates = DEFAULT_RATES): PlanEstimate {
  const evaluations = plan.variants.length * plan.perspectives.length * (plan.mode === 'both' ? 2 : 1);
  let storage = modelBytes; // the dense graph
  let seconds = 0;
  for (const v of plan.variants.map(specOf)) {
    seconds += compressSeconds(rates, v.method, modelBytes) + rates.loadSeconds;
    if (v.method === 'dense') continue;
    storage += 2 * modelBytes; // compressed safetensors + its fp32 graph
    const bits = bitsOf(v);
    if (bits === 4 || bits === 8) storage += (modelBytes * bits) / 32;
  }
  seconds += evaluations * (PRESET_ITEMS[plan.preset] ?? 100) * rates.secondsPerItem;
  return { variants: plan.variants.length, evaluations, storageBytes: storage, minutes: seconds / 60, calibratedFrom: rates.fromRuns };
}
