import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { killCtlabWhen } from './kill-helpers';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ctlab(args: string[], timeout = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/ctlab.mjs', ...args], { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code) || 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const STORIES = '../shared/models/stories260k';

test.describe('ctlab compress and kl', () => {
  const profile = mkdtempSync(join(tmpdir(), 'ctlab-cli-compress-'));
  const out = join(profile, 'stories260k-gptq4');
  // Its own port (and so its own cache), apart from cli.spec.ts and a developer's runs.
  const common = ['--profile', profile, '--port', '47698'];
  test.afterAll(() => rmSync(profile, { recursive: true, force: true }));

  test('compress gptq 4-bit with self-generated calibration into a folder that generates and scores', async () => {
    test.setTimeout(600_000);
    // The variant's settings and calibration, given again to generate --method below.
    const variant = [
      '--method',
      'gptq',
      '--bits',
      '4',
      '--group-size',
      '64',
      '--calib',
      'self',
      '--samples',
      '8',
      '--seq-len',
      '64',
      '--seed',
      '1',
    ];
    const run = await ctlab(['compress', '--model', STORIES, ...variant, '--out', out, '--json', ...common]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.kind).toBe('ctlab-variant');
    expect(report.method).toBe('gptq');
    expect(report.label).toBe('stories260k · GPTQ-4 g64');
    expect(report.calibration).toMatchObject({ samples: 8, seqLen: 64, seed: 1 });
    expect(report.calibration.source).toMatch(/self-generated/);
    expect(report.graph).toMatchObject({ linear: 'matmulnbits', packedLinears: 35 });
    expect(report.linears).toHaveLength(35);
    expect(report.summary.structureProblems).toEqual([]);
    expect(report.bytes.after).toBeLessThan(0.35 * report.bytes.before);
    expect(['webgpu', 'typescript']).toContain(report.kernels);

    for (const f of [
      'config.json',
      'tokenizer.json',
      'model.safetensors',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/ctlab-graph.json',
      'ctlab-variant.json',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'ctlab-variant.json'), 'utf8')).key).toBe(report.key);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))['transformers.js_config']).toMatchObject({
      use_external_data_format: { 'model.onnx': 1 },
    });
    expect(JSON.parse(readFileSync(join(out, 'onnx/ctlab-graph.json'), 'utf8')).linear).toBe('matmulnbits');
    // stories260k is fp32, so its variant's safetensors stays fp32 tensor for tensor (the cache's own metadata dropped).
    const st = readFileSync(join(out, 'model.safetensors'));
    const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype?: string }>;
    const dtypes = new Set(Object.entries(header).flatMap(([k, v]) => (k === '__metadata__' ? [] : [v.dtype])));
    expect([...dtypes]).toEqual(['F32']);
    expect(st.byteLength).toBeLessThanOrEqual(report.bytes.safetensors);
    // The files came by the browser's download path; the command says how fast and what share of its time.
    const sizes = ['config.json', 'tokenizer.json', 'model.safetensors', 'onnx/model.onnx', 'onnx/model.onnx_data', 'ctlab-variant.json'];
    expect(report.export.bytes).toBeGreaterThanOrEqual(sizes.reduce((s, f) => s + readFileSync(join(out, f)).byteLength, 0));
    expect(report.export.share).toBeGreaterThan(0);
    expect(report.export.share).toBeLessThan(1);
    // stories260k's MLP (172 outputs) does not fill int32 words of eight 4-bit codes: no gptq/, and the report says why.
    expect(report.gptq.refused).toMatch(/172×64 linear does not pack into int32 words/);
    expect(existsSync(join(out, 'gptq'))).toBe(false);

    const gen = await ctlab(['generate', '--model', out, '--prompt', 'Once upon a time', '--max-new-tokens', '20', '--json', ...common]);
    expect(gen.code, gen.stderr).toBe(0);
    const g = JSON.parse(gen.stdout);
    expect(g.ids.length).toBe(g.prompt_ids.length + 20);
    expect(g.text.length).toBeGreaterThan(10);
    // The folder's own graph is not taken (nothing under onnx/ is fetched): one is built from its validated safetensors.
    expect(gen.stderr).not.toMatch(/onnx\/[^:]+: stored/);
    expect(gen.stderr).toMatch(/building the ONNX graph/);

    // The same settings and calibration through generate --method: the cached variant (its
    // MatMulNBits graph) generates, found by its key, nothing compressed again.
    const byMethod = await ctlab([
      'generate',
      '--model',
      STORIES,
      ...variant,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '12',
      '--json',
      ...common,
    ]);
    expect(byMethod.code, byMethod.stderr).toBe(0);
    const v = JSON.parse(byMethod.stdout);
    expect(v.model_key).toBe(report.key);
    expect(v.model).toBe('stories260k · GPTQ-4 g64');
    expect(v.ids.length).toBe(v.prompt_ids.length + 12);
    expect(byMethod.stderr).not.toMatch(/layers \(/);

    // Held-out text: the dense model's own writing, with another seed than the calibration.
    const held = await ctlab([
      'generate',
      '--model',
      STORIES,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '120',
      '--temperature',
      '1',
      '--seed',
      '77',
      '--json',
      ...common,
    ]);
    expect(held.code, held.stderr).toBe(0);
    const textFile = join(profile, 'held-out.txt');
    writeFileSync(textFile, `Once upon a time${JSON.parse(held.stdout).text}`);
    const kl = await ctlab(['kl', '--model', STORIES, '--variant', out, '--text-file', textFile, '--json', ...common]);
    expect(kl.code, kl.stderr).toBe(0);
    const k = JSON.parse(kl.stdout);
    expect(k.tokens).toBeGreaterThan(50);
    expect(k.mean_kl).toBeGreaterThan(0);
    expect(k.mean_kl).toBeLessThan(0.3);
    expect(k.ppl_variant).toBeGreaterThan(1);
    expect(Math.abs(k.ppl_variant - k.ppl_dense) / k.ppl_dense).toBeLessThan(0.3);
  });

  test('bench compress times every method through the WGSL kernels and the TypeScript ones in one run', async () => {
    test.setTimeout(600_000);
    const run = await ctlab(
      [
        'bench',
        'compress',
        '--layers',
        '2',
        '--methods',
        'gptq,awq',
        '--export',
        'gptq',
        '--samples',
        '1',
        '--seq-len',
        '16',
        '--json',
        ...common,
      ],
      600_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.model).toMatch(/SmolLM2-135M shape .* 2\/30 layers/);
    expect(r.adapter).toMatch(/\w/);
    // The page is cross-origin isolated, so its compress worker runs helper threads (a web Worker per further core).
    expect(r.cpuThreads).toBeGreaterThanOrEqual(Math.min(2, cpus().length));
    expect(r.cpuThreads).toBeLessThanOrEqual(4);
    expect([r.samples, r.seqLen, r.layers]).toEqual([1, 16, 2]);
    for (const method of ['gptq', 'awq']) {
      for (const kernels of ['webgpu', 'typescript']) {
        const row = r.rows.find((x: { method: string; kernels: string }) => x.method === method && x.kernels === kernels);
        expect(row, `${method} ${kernels}`).toBeTruthy();
        expect(row.layers).toBe(2);
        expect(row.msPerLayer).toBeGreaterThan(0);
        expect(row.totalMs).toBeGreaterThanOrEqual(2 * row.msPerLayer);
        expect(row.phases.compress).toBeGreaterThan(0);
      }
      expect(r.ratios[method]).toBeGreaterThan(0);
    }
    expect(r.rows.find((x: { method: string }) => x.method === 'awq').phases['awq-clip']).toBeGreaterThan(0);
    // The export of a compress run of a 2-layer checkpoint: at bf16 its folder holds the 4-bit graph, GPTQ tensors and bf16 weights.
    expect(r.exports.map((e: { method: string }) => e.method)).toEqual(['gptq']);
    const [e] = r.exports;
    expect(e.settings).toBe('GPTQ-4 g128');
    expect(e.bytes).toBeGreaterThan(100e6);
    expect(e.exportMs).toBeGreaterThan(0);
    expect(e.mbPerS).toBeCloseTo(e.bytes / 1e6 / (e.exportMs / 1000), 6);
    expect(e.share).toBeCloseTo(e.exportMs / e.wallMs, 6);
  });

  test('a killed compress goes on from its last finished layer when run again', async () => {
    test.setTimeout(600_000);
    const args = ['compress', '--model', STORIES, '--method', 'sparsegpt', '--sparsity', '2:4', '--calib', 'builtin', '--samples', '8'];
    const dir = join(profile, 'stories260k-sparsegpt');
    // Killed once the count shows two of its five layers (the second one's last pass: the first is stored).
    await killCtlabWhen([...args, '--out', dir, ...common], (stderr) => /compress: [2-4]\/5 layers/.test(stderr));
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    const again = await ctlab([...args, '--out', dir, '--json', ...common]);
    expect(again.code, again.stderr).toBe(0);
    const kept = /going on from layer (\d)\/5: (\d) layers kept from the stopped run/.exec(again.stderr);
    expect(kept, again.stderr).not.toBeNull();
    expect(Number(kept![2])).toBeGreaterThanOrEqual(1);
    expect(again.stderr).not.toMatch(/compress: 0\/5 layers/);
    const report = JSON.parse(again.stdout);
    expect(report.linears).toHaveLength(35);
    expect(report.timings.perLayer.map((t: { layer: number }) => t.layer)).toEqual([0, 1, 2, 3, 4]);
    expect(report.summary.structureProblems).toEqual([]);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });

  test('bad compress arguments give one clear line and a non-zero exit', async () => {
    const noOut = await ctlab(['compress', '--model', STORIES, '--method', 'gptq', '--calib', 'self', ...common]);
    expect(noOut.code).not.toBe(0);
    expect(noOut.stderr.trim()).toBe('ctlab: compress needs --out DIR');
    const twoCalib = await ctlab([
      'compress',
      '--model',
      STORIES,
      '--method',
      'rtn',
      '--calib',
      'self',
      '--calib-url',
      'http://127.0.0.1:1/x',
      '--out',
      join(profile, 'x'),
      ...common,
    ]);
    expect(twoCalib.stderr.trim()).toBe('ctlab: compress takes one of --calib-file F, --calib-url U, --calib self|builtin');
    const badBits = await ctlab([
      'compress',
      '--model',
      STORIES,
      '--method',
      'gptq',
      '--bits',
      '5',
      '--calib',
      'builtin',
      '--out',
      join(profile, 'x'),
      ...common,
    ]);
    expect(badBits.code).not.toBe(0);
    expect(badBits.stderr).toMatch(/^ctlab: bits must be 3, 4 or 8, got 5$/m);
    const mixed = await ctlab([
      'compress',
      '--model',
      STORIES,
      '--method',
      'wanda',
      '--bits',
      '4',
      '--calib',
      'builtin',
      '--out',
      join(profile, 'x'),
      ...common,
    ]);
    expect(mixed.stderr).toMatch(/^ctlab: wanda prunes; --bits, --group-size and --act-order belong to rtn, gptq and awq$/m);
    expect(existsSync(join(profile, 'x'))).toBe(false);
    const noVariant = await ctlab(['kl', '--model', STORIES, '--text', 'hello', ...common]);
    expect(noVariant.stderr.trim()).toBe('ctlab: kl needs --variant V (a model folder, URL or hub id)');
  });
});
