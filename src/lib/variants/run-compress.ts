import { parseSparsity, type CompressSettings } from '../compress/reference/settings';
import type { CompressFn } from '../run/orchestrator';
import type { VariantSpec } from '../run/variants';
import type { ShardCache } from '../storage/shard-cache';
import { formatBytes } from '../util/format';
import type { CalibrationSource } from './calibration';
import { compressCachedModel } from './compress-model';

/** A run's variant id (`gptq3`, `wanda2:4`, …) as compression settings. */
export function settingsForVariant(spec: VariantSpec): CompressSettings {
  if (spec.method === 'dense') throw new Error('the dense model is not compressed');
  if (spec.method === 'rtn' || spec.method === 'gptq' || spec.method === 'awq') {
    return { method: spec.method, bits: spec.bits ?? 4, ...(spec.groupSize !== undefined ? { groupSize: spec.groupSize } : {}) };
  }
  return { method: spec.method, sparsity: parseSparsity(spec.sparsity ?? '2:4') };
}

/**
 * The orchestrator's `CompressFn` (`src/lib/run/orchestrator.ts`): makes the variant with this
 * compression engine, or finds it in the cache when the same settings and calibration were
 * compressed before. Runs wherever the caller runs (e.g. the eval worker's `InferenceService`).
 */
export function compressForRuns(cache: ShardCache): CompressFn {
  return async (base, spec, calibration, onProgress, signal) => {
    const source: CalibrationSource =
      calibration.source === 'url'
        ? { kind: 'url', url: calibration.url ?? '' }
        : calibration.source === 'builtin'
          ? { kind: 'builtin' }
          : { kind: 'self' };
    const report = await compressCachedModel(
      cache,
      base.key,
      {
        settings: settingsForVariant(spec),
        calibration: source,
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
