import { beforeAll, describe, expect, it } from 'vitest';
import type { CompressSettings } from '../../../src/lib/compress/reference/settings';
import { describeAdapter } from '../../../src/lib/gpu/device';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { ensureDenseGraph, GRAPH_INFO_FILE, GRAPH_VERSION, storedGraph } from '../../../src/lib/infer/graph-store';
import { forwardLogits } from '../../../src/lib/infer/scoring';
import { downloadModel, openCachedModel, openWeights, type CachedModel } from '../../../src/lib/model/download';
import { urlSource } from '../../../src/lib/model/sources';
import { referenceForward } from '../../reference/reference-forward';
import type { ShardCache } from '../../../src/lib/storage/shard-cache';
import { buildCalibration, compressCachedModel, type CompressProgress } from '../../../src/lib/variants/compress-model';
import { exportVariantFiles, readExportChunk, readVariantReport } from '../../../src/lib/variants/store';
import { fetchBytes, freshCache, putFixture, STORIES } from '../helpers';

let cache: ShardCache;
let base: CachedModel;
let ids: number[][];

beforeAll(async () => {
  cache = freshCache();
  base = await downloadModel(cache, urlSource(`${location.origin}${STORIES}`));
  // Calibration written by the dense model itself (8 × 64 tokens, seed 3).
  ids = (await buildCalibration(cache, base.key, base.spec, { calibration: { kind: 'self' }, samples: 8, seqLen: 64, seed: 3 })).ids;
}, 120_000);

const compress = (settings: CompressSettings, kernels: 'webgpu' | 'typescript' = 'typescript') =>
  compressCachedModel(cache, base.key, { settings, calibration: { kind: 'tokens', ids }, kernels });

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('compressed variants in the cache', () => {
  it('4- and 8-bit variants carry a MatMulNBits graph that loads and generates on wasm and WebGPU, at a fraction of the bytes', async () => {
    const dense = await loadCausalLm(cache, base.key, { device: 'wasm' });
    const prompt = 'Once upon a time';
    const denseIds = (await generate(dense, { prompt, maxNewTokens: 20 })).ids;
    const lines: string[] = [];
    for (const bits of [4, 8]) {
      const report = await compress({ method: 'gptq', bits, groupSize: 64 });
      const m = (await cache.manifest(report.key))!;
      expect(m.status).toBe('complete');
      expect(m.label).toBe(`stories260k · GPTQ-${bits} g64`);
      for (const f of [
        'config.json',
        'tokenizer.json',
        'model.safetensors',
        'onnx/model.onnx',
        'onnx/model.onnx_data',
        'onnx/ctlab-graph.json',
        'ctlab-variant.json',
      ])
        expect(m.files[f]?.complete, f).toBe(true);
      expect((await storedGraph(cache, report.key))?.linear).toBe('matmulnbits');
      expect(text(await cache.readFile(report.key, 'onnx/model.onnx'))).toContain('MatMulNBits');
      expect(report.graph).toMatchObject({ linear: 'matmulnbits', packedLinears: 35, fp32Linears: 0 });
      expect(await readVariantReport(cache, report.key)).toEqual(report);

      // Per linear: codes at bits/8 bytes per weight plus one fp32 scale per (row, block); no zero points (symmetric).
      for (const l of report.linears) {
        const [N, K] = l.shape;
        const blocks = Math.ceil(K / 64);
        expect(l.packedBytes, l.name).toBe((N * blocks * 64 * bits) / 8 + N * blocks * 4);
        expect(l.format).toBe('matmulnbits');
      }
      const linearRatio = report.bytes.linearsDense / report.bytes.linearsStored;
      expect(linearRatio).toBeGreaterThan(bits === 4 ? 6 : 3.5);
      // stories260k's fp32 embedding (512 × 64, tied) stays dense and dominates the whole file.
      expect(report.bytes.after).toBeLessThan((bits === 4 ? 0.35 : 0.45) * report.bytes.before);
      lines.push(
        `GPTQ-${bits} g64: dense ${report.bytes.before} B → graph ${report.bytes.after} B (${(report.bytes.after / report.bytes.before).toFixed(3)}); linears ${report.bytes.linearsDense} → ${report.bytes.linearsStored} B (÷${linearRatio.toFixed(2)})`,
      );

      // The MatMulNBits graph computes what the fake-quantized fp32 checkpoint holds.
      const variant = await openCachedModel(cache, report.key);
      const weights = await openWeights(cache, variant);
      const values = new Map<string, Float32Array>();
      for (const n of weights.names()) values.set(n, await weights.float32(n));
      const probe = denseIds.slice(0, 16);
      const want = referenceForward(base.spec, values, probe).logits;
      for (const device of ['wasm', 'webgpu'] as const) {
        if (device === 'webgpu' && !(await describeAdapter()).available) continue;
        const lm = await loadCausalLm(cache, report.key, { device });
        expect(lm.device).toBe(device);
        const got = await forwardLogits(lm, probe);
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(got[i] - want[i]));
          scale = Math.max(scale, Math.abs(want[i]));
        }
        expect(worst / scale, `${bits}-bit on ${device}`).toBeLessThan(2e-3);
        const out = await generate(lm, { prompt, maxNewTokens: 20 });
        expect(out.newIds).toHaveLength(20);
        // 8 bits is close enough to dense that greedy decoding starts the same way.
        if (bits === 8) expect(out.ids.slice(0, 12)).toEqual(denseIds.slice(0, 12));
        await lm.model.dispose();
      }
    }
    console.log(lines.join('\n'));
    await dense.model.dispose();
  }, 240_000);

  it('a variant graph of an earlier version is kept and still runs; a dense one of that version is built again', async () => {
    const report = await compress({ method: 'rtn', bits: 4, groupSize: 64 });
    const older = async (key: string) => {
      const info = JSON.parse(text(await cache.readFile(key, GRAPH_INFO_FILE))) as Record<string, unknown>;
      await cache.removeFile(key, GRAPH_INFO_FILE);
      await cache.storeBytes(key, GRAPH_INFO_FILE, new TextEncoder().encode(JSON.stringify({ ...info, version: GRAPH_VERSION - 1 })));
    };
    await older(report.key);
    // Its packed weights exist only in the graph: building it again would make it fp32.
    expect(await storedGraph(cache, report.key)).toMatchObject({ version: GRAPH_VERSION - 1, linear: 'matmulnbits' });
    const lm = await loadCausalLm(cache, report.key, { device: 'wasm' });
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 4 })).newIds.length).toBe(4);
    await lm.model.dispose();

    await ensureDenseGraph(cache, base);
    await older(base.key);
    expect(await storedGraph(cache, base.key)).toBeNull();
    expect((await ensureDenseGraph(cache, base)).version).toBe(GRAPH_VERSION);
  });

  it('a 4-bit variant built with an fp16 graph runs it when fp16 is chosen: half the scale bytes, logits close to the fp32-scale graph', async () => {
    const report = await compressCachedModel(cache, base.key, {
      settings: { method: 'rtn', bits: 4, groupSize: 32 },
      calibration: { kind: 'tokens', ids },
      kernels: 'typescript',
      halfGraph: true,
    });
    const files = (await cache.manifest(report.key))!.files;
    for (const f of ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data', 'onnx/ctlab-graph_fp16.json'])
      expect(files[f]?.complete, f).toBe(true);
    expect(text(await cache.readFile(report.key, 'onnx/model_fp16.onnx'))).toContain('MatMulNBits');
    expect((await storedGraph(cache, report.key, 'fp16'))?.linear).toBe('matmulnbits');
    // Same packed codes; the embedding (tied, dense) and the scales take half the bytes.
    expect(report.bytes.graphFp16).toBeGreaterThan(0);
    expect(report.bytes.graphFp16!).toBeLessThan(0.85 * report.bytes.graph!);

    const probe = ids[0].slice(0, 24);
    const full = await loadCausalLm(cache, report.key, { device: 'wasm' });
    expect(full.precision).toBe('fp32');
    const want = await forwardLogits(full, probe);
    await full.model.dispose();
    const half = await loadCausalLm(cache, report.key, { device: 'wasm', precision: 'fp16' });
    expect(half.precision).toBe('fp16');
    expect(half.precisionReason).toMatch(/fp16 was asked for/);
    const got = await forwardLogits(half, probe);
    await half.model.dispose();
    let worst = 0;
    let scale = 0;
    let differ = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
      if (got[i] !== want[i]) differ++;
    }
    // Half precision rounds: close, and not the same graph run twice.
    expect(worst / scale).toBeLessThan(1e-2);
    expect(differ).toBeGreaterThan(want.length / 2);
    console.log(
      `RTN-4 g32 fp16 graph: ${report.bytes.graphFp16} B vs fp32-scale ${report.bytes.graph} B; max |Δlogit| ${worst.toExponential(2)} (scale ${scale.toFixed(2)})`,
    );
  }, 240_000);

  it('a 3-bit variant runs as fake-quantized fp32; its export builds the dense graph and lists a Hugging Face folder', async () => {
    const stored: CompressProgress[] = [];
    const report = await compressCachedModel(
      cache,
      base.key,
      { settings: { method: 'awq', bits: 3, groupSize: 64 }, calibration: { kind: 'tokens', ids }, kernels: 'typescript' },
      { onProgress: (p) => void (p.phase === 'store' && p.file && stored.push(p)) },
    );
    expect(report.graph.linear).toBe('matmul');
    expect(report.graph.notes.join(' ')).toMatch(/3-bit linears run as fake-quantized fp32/);
    expect((await cache.manifest(report.key))!.files['onnx/model.onnx']).toBeUndefined();
    // The store phase reports the bytes of model.safetensors as they are written; no graph is stored for 3 bits.
    expect(new Set(stored.map((p) => p.file))).toEqual(new Set(['model.safetensors']));
    expect(stored.every((p) => p.total === report.bytes.safetensors)).toBe(true);
    expect(stored.at(-1)!.done).toBe(report.bytes.safetensors);
    const graphTicks: number[][] = [];
    const files = await exportVariantFiles(cache, report.key, (done, total) => graphTicks.push([done, total]));
    // The export builds the dense graph, reporting its bytes up to the stored graph's size.
    const graphSize = (await storedGraph(cache, report.key))!.bytes;
    expect(graphTicks.length).toBeGreaterThan(1);
    expect(graphTicks.at(-1)).toEqual([graphSize, graphSize]);
    const paths = files.map((f) => f.path);
    for (const f of [
      'config.json',
      'tokenizer.json',
      'model.safetensors',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/ctlab-graph.json',
      'ctlab-variant.json',
    ])
      expect(paths, f).toContain(f);
    for (const f of files) {
      const bytes = await readExportChunk(cache, report.key, f.path, 0, f.bytes);
      expect(bytes.byteLength, f.path).toBe(f.bytes);
    }
    const config = JSON.parse(text(await readExportChunk(cache, report.key, 'config.json', 0, 1 << 20)));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } });
    expect(config.hidden_size).toBe(64);
    const lm = await loadCausalLm(cache, report.key, { device: 'wasm' });
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 8 })).newIds).toHaveLength(8);
    await lm.model.dispose();
  });

  it('GPTQ act-order with groups keeps those linears fake-quantized fp32 and says why', async () => {
    const report = await compress({ method: 'gptq', bits: 4, groupSize: 32, actOrder: true });
    expect(report.linears.every((l) => l.solver?.actOrder)).toBe(true);
    expect(report.graph.packedLinears).toBe(0);
    expect(report.graph.linear).toBe('matmul');
    expect(report.linears[0].reason).toMatch(/act-order with groups/);
    expect(report.summary.structureProblems).toEqual([]);
  });

  it('an exported folder downloads as a checkpoint: its own graph is not taken, one is built from its safetensors and runs', async () => {
    const report = await compress({ method: 'rtn', bits: 4, groupSize: 64 });
    const name = `variant-${crypto.randomUUID().slice(0, 8)}`;
    for (const f of await exportVariantFiles(cache, report.key))
      await putFixture(name, f.path, await readExportChunk(cache, report.key, f.path, 0, f.bytes));
    expect(await fetchBytes(`/fixtures/${name}/onnx/ctlab-graph.json`)).toBeTruthy();
    const other = freshCache();
    const got = await downloadModel(other, urlSource(`${location.origin}/fixtures/${name}`));
    // Nothing ties a shipped graph to the validated safetensors, so it is never fetched.
    expect(Object.keys(got.manifest.files).filter((f) => f.startsWith('onnx/'))).toEqual([]);
    expect(await storedGraph(other, got.key)).toBeNull();
    const lm = await loadCausalLm(other, got.key, { device: 'wasm' });
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 8 })).newIds).toHaveLength(8);
    await lm.model.dispose();
    // Built here from the fake-quantized fp32 weights the folder's safetensors hold.
    expect((await storedGraph(other, got.key))?.linear).toBe('matmul');
  });

  it('auto picks the WebGPU kernels whenever there is an adapter, SwiftShader included, and records it and its division', async () => {
    const adapter = await describeAdapter();
    const report = await compressCachedModel(cache, base.key, {
      settings: { method: 'rtn', bits: 8, groupSize: 64 },
      calibration: { kind: 'tokens', ids },
    });
    if (!adapter.available) {
      expect(report.kernels).toBe('typescript');
      expect(report.kernelsNote).toMatch(/no WebGPU/);
      expect(report.division).toBeUndefined();
    } else {
      expect(report.kernels).toBe('webgpu');
      expect(report.adapter).toBe([adapter.vendor, adapter.architecture].filter(Boolean).join(' · '));
      expect(report.kernelsNote).toBeUndefined();
      // how this adapter's quantizer divided: SwiftShader divides exactly
      expect(report.division).toMatch(
        adapter.architecture === 'swiftshader' ? /^division exact \(12288 pairs\)$/ : /^division (exact|refined|plain)/,
      );
    }
  });

  it('the WebGPU kernels write the same variant as the TypeScript references', async () => {
    const report = await describeAdapter();
    if (!report.available) return;
    const exact = report.architecture === 'swiftshader';
    for (const settings of [
      { method: 'gptq', bits: 3, groupSize: 64 },
      { method: 'awq', bits: 4, groupSize: 64 },
      { method: 'sparsegpt', sparsity: { n: 2, m: 4 } },
      { method: 'wanda', sparsity: { ratio: 0.5 } },
    ] as CompressSettings[]) {
      const ts = await compress(settings, 'typescript');
      const a = await cache.readFile(ts.key, 'model.safetensors');
      const gpu = await compress(settings, 'webgpu');
      expect(gpu.kernels).toBe('webgpu');
      expect(gpu.adapter).toMatch(/\w/);
      const b = await cache.readFile(gpu.key, 'model.safetensors');
      if (exact) expect(b, settings.method).toEqual(a);
      else
        gpu.linears.forEach((l, i) =>
          expect(Math.abs(l.error - ts.linears[i].error), l.name).toBeLessThan(0.05 * ts.linears[i].error + 1e-6),
        );
    }
  }, 300_000);
});
