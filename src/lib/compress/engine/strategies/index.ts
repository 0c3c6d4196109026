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
 * Calibration samples whose block passes a method needs: all of them, or, for a data-free
 * strategy, those holding the first `errorTokens` tokens, all its error report reads.
 */
export function forwardedSamples(method: Method, samples: number, seqLen: number, errorTokens: number): number {
  return LAYER_STRATEGIES[method].dataFree ? Math.min(samples, Math.ceil(errorTokens / seqLen)) : samples;
}
