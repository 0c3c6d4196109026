import type { Method } from '../../reference/settings';
import type { LayerStrategy } from '../layer-context';
import { awqLayer } from './awq';
import { gptqLayer } from './gptq';
import { magnitudeLayer } from './magnitude';
import { rtnLayer } from './rtn';
import { sparsegptLayer } from './sparsegpt';
import { wandaLayer } from './wanda';

/** Each method's work on one decoder layer. */
export const LAYER_STRATEGIES: Record<Method, LayerStrategy> = {
  rtn: rtnLayer,
  gptq: gptqLayer,
  awq: awqLayer,
  magnitude: magnitudeLayer,
  wanda: wandaLayer,
  sparsegpt: sparsegptLayer,
};

/**
 * Methods whose weights do not depend on the calibration data: their block passes feed only the
 * error report, which reads the first `errorTokens` tokens, so only the samples holding those run.
 */
export const DATA_FREE_METHODS: ReadonlySet<Method> = new Set<Method>(['rtn', 'magnitude']);

/** Calibration samples whose block passes a method needs: all of them, or those the error report reads. */
export function forwardedSamples(method: Method, samples: number, seqLen: number, errorTokens: number): number {
  return DATA_FREE_METHODS.has(method) ? Math.min(samples, Math.ceil(errorTokens / seqLen)) : samples;
}
