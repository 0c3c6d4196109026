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
