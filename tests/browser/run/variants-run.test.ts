import { describe, expect, it } from 'vitest';
import { executeRun, newRun } from '../../../src/lib/run/orchestrator';
import type { RunPlan } from '../../../src/lib/run/types';
import { parseVariants } from '../../../src/lib/variants/spec';
import { urlSource } from '../../../src/lib/model/sources';
import { RunStore } from '../../../src/lib/run/run-store';
import { compressForRuns } from '../../../src/lib/variants/run-compress';
import { freshCache, STORIES } from '../helpers';

describe('a run with compressed variants', () => {
  it('compresses each variant, then evaluates it like dense', async () => {
    const cache = freshCache();
    const store = new RunStore(`test-${crypto.randomUUID()}`);
    const plan: RunPlan = {
      model: urlSource(`${location.origin}${STORIES}`),
      variants: parseVariants('dense,rtn4,wanda2:4'),
      perspectives: ['machine_ethics'],
      preset: 'smoke',
      mode: 'generate',
      seed: 1,
      data: { kind: 'offline', base: `${location.origin}/offline-data/` },
      device: 'wasm',
      calibration: { source: 'self', samples: 8, seqLen: 64 },
    };
    const doc = newRun(plan);
    await store.saveRun(doc);
    const results = await executeRun(doc.id, { cache, store, compress: compressForRuns(cache) });
    expect(results.results.map((r) => r.variant)).toEqual(['dense', 'rtn4', 'wanda2:4']);
    const rtn = results.variants?.find((v) => v.id === 'rtn4');
    const dense = results.variants?.find((v) => v.id === 'dense');
    expect(rtn?.key).toMatch(/^variant:/);
    expect(rtn?.bytes).toBeLessThan(dense!.bytes!);
    expect(rtn?.report).toBeTruthy();
  }, 300_000);
});
