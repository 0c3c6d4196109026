import { describe, expect, it } from 'vitest';
import { loadCausalLm } from '../../../src/lib/infer/causal-lm';
import { generate } from '../../../src/lib/infer/generate';
import { parseModelSpec } from '../../../src/lib/model/config';
import { downloadModel, openCachedModel, openWeights } from '../../../src/lib/model/download';
import { randomWeights } from '../../../src/lib/model/random-model';
import { SafetensorsFile, writeSafetensors } from '../../../src/lib/model/safetensors';
import { urlSource } from '../../../src/lib/model/sources';
import { expectedTensors } from '../../../src/lib/model/weights';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { encodeFloats } from '../../../src/lib/variants/export-dtype';
import { compressCachedModel } from '../../../src/lib/variants/compress-model';
import { exportVariantFiles, readExportChunk } from '../../../src/lib/variants/store';
import { bf16Nearest, decodeGptq } from '../../reference/gptq-decode';
import { fetchBytes, freshCache, putFixture, STORIES } from '../helpers';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** stories260k's shape with a bf16 checkpoint whose every linear packs into int32 words (intermediate 192, not 172). */
async function bf16Fixture(): Promise<string> {
  const config = {
    ...JSON.parse(text(await fetchBytes(`${STORIES}/config.json`))),
    intermediate_size: 192,
    num_hidden_layers: 2,
    torch_dtype: 'bfloat16',
  };
  const spec = parseModelSpec(config);
  const values = randomWeights(spec, 5);
  const tensors = [...expectedTensors(spec)].map(([name, shape]) => ({
    name,
    dtype: 'BF16' as const,
    shape,
    data: encodeFloats(values.get(name)!, 'BF16'),
  }));
  const name = `bf16-${crypto.randomUUID().slice(0, 8)}`;
  await putFixture(name, 'config.json', JSON.stringify(config));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await putFixture(name, f, await fetchBytes(`${STORIES}/${f}`));
  await putFixture(name, 'model.safetensors', writeSafetensors(tensors));
  return name;
}

describe('exported variants of a bf16 checkpoint', () => {
  it('model.safetensors stays bf16 (fake-quantized values rounded to nearest even), gptq/ decodes to them, and the folder loads back', async () => {
    const cache = freshCache();
    const fixture = await bf16Fixture();
    const base = await downloadModel(cache, urlSource(`${location.origin}/fixtures/${fixture}`));
    const report = await compressCachedModel(cache, base.key, {
      settings: { method: 'rtn', bits: 4, groupSize: 32, sym: false },
      calibration: { kind: 'tokens', ids: [[1, 5, 9, 13, 17, 21, 25, 29]] },
      kernels: 'typescript',
    });
    expect(report.gptq).toMatchObject({ format: expect.stringMatching(/^gptq(_v2)?$/) });
    const files = await exportVariantFiles(cache, report.key);
    const read = async (path: string) => readExportChunk(cache, report.key, path, 0, files.find((f) => f.path === path)!.bytes);
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['model.safetensors', 'gptq/model.safetensors', 'gptq/config.json', 'gptq/tokenizer.json', 'onnx/model.onnx']),
    );

    // The fake-quantized fp32 weights as the cache holds them, the reference for both exports.
    const weights = await openWeights(cache, await openCachedModel(cache, report.key));
    const exported = await SafetensorsFile.open(bytesSource('model.safetensors', await read('model.safetensors')));
    const baseSize = base.manifest.files['model.safetensors'].size!;
    expect(exported.source.size).toBeLessThanOrEqual(baseSize + 1024);
    for (const name of weights.names()) {
      expect(exported.info(name).dtype, name).toBe('BF16');
      const want = Array.from(await weights.float32(name), bf16Nearest);
      expect(Array.from(await exported.float32(name)), name).toEqual(want);
    }

    const gptqConfig = JSON.parse(text(await read('gptq/config.json')));
    expect(gptqConfig.quantization_config).toMatchObject({ quant_method: 'gptq', bits: 4, group_size: 32, desc_act: false, sym: false });
    const format = gptqConfig.quantization_config.checkpoint_format;
    expect(format).toBe((report.gptq as { format: string }).format);
    const gptq = await SafetensorsFile.open(bytesSource('gptq', await read('gptq/model.safetensors')));
    let linears = 0;
    for (const l of report.linears) {
      const prefix = l.name.replace(/\.weight$/, '');
      const [N, K] = l.shape;
      expect(gptq.has(l.name)).toBe(false);
      expect(gptq.info(`${prefix}.qweight`)).toMatchObject({ dtype: 'I32', shape: [K / 8, N] });
      expect(gptq.info(`${prefix}.qzeros`)).toMatchObject({ dtype: 'I32', shape: [K / 32, N / 8] });
      expect(gptq.info(`${prefix}.scales`)).toMatchObject({ dtype: 'F16', shape: [K / 32, N] });
      expect(gptq.info(`${prefix}.g_idx`)).toMatchObject({ dtype: 'I32', shape: [K] });
      const i32 = async (n: string) => new Int32Array((await gptq.raw(`${prefix}.${n}`)).slice().buffer);
      const back = decodeGptq(
        {
          qweight: await i32('qweight'),
          qzeros: await i32('qzeros'),
          scales: new Uint16Array((await gptq.raw(`${prefix}.scales`)).slice().buffer),
          gIdx: await i32('g_idx'),
        },
        4,
        K,
        N,
        format,
      );
      const want = await weights.float32(l.name);
      // fp16 scales: each weight within the scale's rounding of ours.
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(back[i] - want[i]), `${l.name}[${i}]`).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -11 + 1e-7);
      linears++;
    }
    expect(linears).toBe(14);
    // Every other tensor is there in its base dtype.
    expect(gptq.info('model.embed_tokens.weight').dtype).toBe('BF16');

    // The exported folder loads back (as a model folder is downloaded) and generates.
    const name = `exported-${crypto.randomUUID().slice(0, 8)}`;
    for (const f of files) if (!f.path.includes('/')) await putFixture(name, f.path, await read(f.path));
    const other = freshCache();
    const back = await downloadModel(other, urlSource(`${location.origin}/fixtures/${name}`));
    const lm = await loadCausalLm(other, back.key, { device: 'wasm' });
    expect((await generate(lm, { prompt: 'Once upon a time', maxNewTokens: 6 })).newIds).toHaveLength(6);
    await lm.model.dispose();
  }, 240_000);
});
