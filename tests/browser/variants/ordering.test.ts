import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupLayout } from '../../../src/lib/compress/reference/quantizer';
import { resolveSettings, type CompressSettings } from '../../../src/lib/compress/reference/settings';
import { checkStructure } from '../../../src/lib/compress/reference/structure';
import { matrix } from '../../../src/lib/compress/reference/types';
import { loadCausalLm, type LoadedLm } from '../../../src/lib/infer/causal-lm';
import { klToReference } from '../../../src/lib/infer/scoring';
import { LINEAR_IDS, linearWeightName } from '../../../src/lib/model/spec';
import { downloadModel, openCachedModel, openWeights, type CachedModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { selfGeneratedText } from '../../../src/lib/variants/calibration';
import { buildCalibration, compressCachedModel } from '../../../src/lib/variants/compress-model';
import type { VariantReport } from '../../../src/lib/variants/report';
import type { ShardCache } from '../../../src/lib/storage/shard-cache';
import { freshCache, STORIES } from '../helpers';

/**
 * The acceptance ordering on stories260k: self-generated calibration (seed 1), held-out
 * self-generated text (seed 1234), every method through the product path (calibration driver,
 * WebGPU kernels where there is an adapter, variant store, ONNX graph, onnxruntime-web), scored
 * by mean KL(dense ‖ variant) and perplexity. Group size 64 (the hidden width).
 */
const VARIANTS: Record<string, CompressSettings> = {
  rtn8: { method: 'rtn', bits: 8, groupSize: 64 },
  rtn4: { method: 'rtn', bits: 4, groupSize: 64 },
  rtn3: { method: 'rtn', bits: 3, groupSize: 64 },
  gptq4: { method: 'gptq', bits: 4, groupSize: 64 },
  gptq3: { method: 'gptq', bits: 3, groupSize: 64 },
  awq4: { method: 'awq', bits: 4, groupSize: 64 },
  awq3: { method: 'awq', bits: 3, groupSize: 64 },
  'magnitude2:4': { method: 'magnitude', sparsity: { n: 2, m: 4 } },
  'wanda2:4': { method: 'wanda', sparsity: { n: 2, m: 4 } },
  'sparsegpt2:4': { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
  'wanda0.5': { method: 'wanda', sparsity: { ratio: 0.5 } },
  'sparsegpt0.5': { method: 'sparsegpt', sparsity: { ratio: 0.5 } },
};

interface Row {
  id: string;
  report: VariantReport;
  kl: number;
  ppl: number;
}

describe('compressed variants of stories260k: the papers’ ordering', () => {
  let cache: ShardCache;
  let base: CachedModel;
  let dense: LoadedLm;
  let heldOut: string;
  let densePpl = 0;
  const rows = new Map<string, Row>();

  beforeAll(async () => {
    cache = freshCache();
    base = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
    dense = await loadCausalLm(cache, base.key, { device: 'wasm' });
    heldOut = await selfGeneratedText(dense, 1024, 1234);
    const calib = await buildCalibration(cache, base.key, base.spec, { calibration: { kind: 'self' }, samples: 16, seqLen: 128, seed: 1 });
    for (const [id, settings] of Object.entries(VARIANTS)) {
      // TypeScript kernels for speed: store.test.ts shows the WebGPU kernels write byte-identical variants on SwiftShader.
      const report = await compressCachedModel(cache, base.key, {
        settings,
        calibration: { kind: 'tokens', ids: calib.ids, name: calib.source },
        kernels: 'typescript',
      });
      const lm = await loadCausalLm(cache, report.key, { device: 'wasm' });
      const r = await klToReference(dense, lm, heldOut);
      await lm.model.dispose();
      densePpl = r.pplReference;
      rows.set(id, { id, report, kl: r.meanKl, ppl: r.pplVariant });
    }
    const line = (id: string, kl: string, ppl: string, rest: string) => `${id.padEnd(14)} ${kl.padStart(9)} ${ppl.padStart(9)}  ${rest}`;
    console.log(
      [
        `stories260k, calibration ${calib.samples} × ${calib.seqLen} self-generated (seed 1), held-out ${heldOut.length} chars self-generated (seed 1234)`,
        line('variant', 'mean KL', 'ppl', 'mean rel. error · zeros · bytes after · graph · kernels'),
        line('dense', '0', densePpl.toFixed(3), `${base.manifest.files['model.safetensors'].size} bytes`),
        ...[...rows.values()].map((r) =>
          line(
            r.id,
            r.kl.toFixed(4),
            r.ppl.toFixed(3),
            `${r.report.summary.meanError.toExponential(2)} · ${(100 * r.report.summary.zeros).toFixed(1)}% · ${r.report.bytes.after} · ${r.report.graph.linear} · ${r.report.kernels}`,
          ),
        ),
      ].join('\n'),
    );
  }, 900_000);
  afterAll(async () => {
    await dense?.model.dispose();
  });

  const kl = (id: string) => rows.get(id)!.kl;
  const ppl = (id: string) => rows.get(id)!.ppl;

  it('GPTQ-3 and AWQ-3 are clearly better than RTN-3', () => {
    expect(kl('gptq3')).toBeLessThan(0.8 * kl('rtn3'));
    expect(kl('awq3')).toBeLessThan(0.8 * kl('rtn3'));
    expect(ppl('gptq3')).toBeLessThan(0.85 * ppl('rtn3'));
    expect(ppl('awq3')).toBeLessThan(0.85 * ppl('rtn3'));
  });

  it('SparseGPT-2:4 and Wanda-2:4 are clearly better than magnitude-2:4', () => {
    expect(kl('sparsegpt2:4')).toBeLessThan(0.8 * kl('magnitude2:4'));
    expect(kl('wanda2:4')).toBeLessThan(0.92 * kl('magnitude2:4'));
    expect(ppl('sparsegpt2:4')).toBeLessThan(0.5 * ppl('magnitude2:4'));
    expect(ppl('wanda2:4')).toBeLessThan(0.8 * ppl('magnitude2:4'));
  });

  it('8-bit is nearly lossless; 4-bit lies between 8-bit and 3-bit', () => {
    expect(kl('rtn8')).toBeLessThan(0.005);
    expect(Math.abs(ppl('rtn8') - densePpl) / densePpl).toBeLessThan(0.01);
    for (const m of ['rtn', 'gptq', 'awq']) {
      expect(kl(`${m}4`), m).toBeGreaterThan(kl('rtn8'));
      expect(kl(`${m}4`), m).toBeLessThan(kl(`${m}3`));
      expect(ppl(`${m}4`), m).toBeLessThan(ppl(`${m}3`));
    }
    expect(Math.max(kl('rtn4'), kl('gptq4'), kl('awq4'))).toBeLessThan(Math.min(kl('rtn3'), kl('gptq3'), kl('awq3')));
  });

  it('every stored linear has the promised structure (read back from model.safetensors)', async () => {
    for (const { id, report } of rows.values()) {
      const settings = resolveSettings(VARIANTS[id]);
      const variant = await openCachedModel(cache, report.key);
      const weights = await openWeights(cache, variant);
      const denseWeights = await openWeights(cache, base);
      for (let layer = 0; layer < base.spec.numLayers; layer++) {
        for (const l of LINEAR_IDS) {
          const name = `model.layers.${layer}.${linearWeightName(l)}`;
          const [rows_, cols] = weights.info(name).shape;
          const W = matrix(rows_, cols, await weights.float32(name));
          const st = checkStructure(
            W,
            'bits' in settings
              ? { kind: 'quant', bits: settings.bits, groupSize: groupLayout(cols, settings.groupSize).groupSize }
              : { kind: 'prune', sparsity: settings.sparsity },
          );
          expect(st.problem, `${id} ${name}`).toBeNull();
          if ('bits' in settings) expect(st.maxDistinct!, `${id} ${name}`).toBeLessThanOrEqual(2 ** settings.bits);
          else if ('n' in settings.sparsity) expect(st.zeros, `${id} ${name}`).toBe(0.5);
          else expect(Math.abs(st.zeros - settings.sparsity.ratio), `${id} ${name}`).toBeLessThan(0.02);
        }
      }
      // Embeddings are never compressed.
      const e = await weights.float32('model.embed_tokens.weight');
      expect(Array.from(e)).toEqual(Array.from(await denseWeights.float32('model.embed_tokens.weight')));
      expect(report.summary.structureProblems, id).toEqual([]);
      expect(report.linears).toHaveLength(7 * base.spec.numLayers);
    }
  });
});
