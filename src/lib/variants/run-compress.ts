import type { Device } from '../infer/causal-lm';
import type { CachedModel } from '../model/download';
import type { ShardCache } from '../storage/shard-cache';
import { formatBytes } from '../util/format';
import { calibrationSource, type CalibrationPlan } from './calibration';
import { compressCachedModel } from './compress-model';
import type { VariantReport } from './report';
import type { VariantSpec } from './spec';

/** A run's calibration for one variant: the plan's choice with the run's seed and device. */
export type RunCalibration = CalibrationPlan & { seed: number; device: Device | 'auto' };

/** Makes (or finds) a compressed variant of the base model in the cache: its cache key and how it was made. */
export type CompressFn = (
  base: CachedModel,
  spec: VariantSpec,
  calibration: RunCalibration,
  onProgress: (message: string, fraction: number | null) => void,
  signal?: AbortSignal,
) => Promise<{ key: string; report?: VariantReport }>;

/**
 * The run orchestrator's `CompressFn`: makes the variant with this compression engine, or finds
 * it in the cache when the same settings and calibration were compressed before. Runs wherever
 * the caller runs (e.g. the eval worker's `EvalService`).
 */
export function compressForRuns(cache: ShardCache): CompressFn {
  return async (base, spec, calibration, onProgress, signal) => {
    if (!spec.settings) throw new Error(`${spec.label}: the dense model is not compressed`);
    const report = await compressCachedModel(
      cache,
      base.key,
      {
        settings: spec.settings,
        calibration: calibrationSource(calibration),
        samples: calibration.samples,
        seqLen: calibration.seqLen,
        seed: calibration.seed,
      },
      {
        signal,
        reuse: true,
        // Run events carry text only: the store phase's bytes go into its message.
        onProgress: (p) =>
          onProgress(
            p.done !== undefined && p.total ? `${p.message} (${formatBytes(p.done)} of ${formatBytes(p.total)})` : p.message,
            p.fraction,
          ),
      },
    );
    return { key: report.key, report };
  };
}
