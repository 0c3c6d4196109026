import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupLayout, quantizeRtn } from '../../src/lib/compress/reference/quantizer';
import { matrix } from '../../src/lib/compress/reference/types';
import { SafetensorsFile } from '../../src/lib/model/safetensors';
import { bytesSource } from '../../src/lib/storage/byte-source';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Dawn on this machine's CPU: SwiftShader's Vulkan driver, shipped with Debian's Chromium.
const SWIFTSHADER = { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json', LD_LIBRARY_PATH: '/usr/lib/chromium' };

function ctlab(args: string[], timeout = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'node',
      ['bin/ctlab.mjs', ...args],
      { timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...SWIFTSHADER } },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code) || 1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const STORIES = '../shared/models/stories260k';

async function safetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(bytesSource(path, new Uint8Array(readFileSync(path))));
}

test.describe('ctlab --runtime node: the engine in the CLI process on Dawn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctlab-cli-node-'));
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('bench compress times the WGSL kernels and their TypeScript references without a page', async () => {
    test.setTimeout(180_000);
    const run = await ctlab([
      'bench',
      'compress',
      '--runtime',
      'node',
      '--layers',
      '1',
      '--methods',
      'rtn',
      '--samples',
      '2',
      '--seq-len',
      '16',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.runtime).toBe('node (Dawn)');
    expect(r.cpuThreads).toBe(Math.min(4, availableParallelism()));
    expect(r.adapter).toMatch(/swiftshader/i);
    expect(r.layers).toBe(1);
    expect(Object.keys(r.forwardPass)).toEqual(['typescript']);
    expect(r.rows.map((row: { method: string; kernels: string }) => `${row.method}/${row.kernels}`)).toEqual([
      'rtn/webgpu',
      'rtn/typescript',
    ]);
    for (const row of r.rows) expect(row.msPerLayer).toBeGreaterThan(0);
    // The process ends by itself once the table is printed (Dawn does not keep it alive).
  });

  for (const kernels of ['webgpu', 'typescript'] as const) {
    test(`compress rtn 4-bit on ${kernels} kernels writes what the TypeScript reference quantizer gives`, async () => {
      test.setTimeout(180_000);
      const out = join(dir, `stories260k-rtn4-${kernels}`);
      const run = await ctlab([
        'compress',
        '--runtime',
        'node',
        '--model',
        STORIES,
        '--method',
        'rtn',
        '--bits',
        '4',
        '--group-size',
        '32',
        '--samples',
        '4',
        '--seq-len',
        '32',
        '--kernels',
        kernels,
        '--out',
        out,
        '--json',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report.kind).toBe('ctlab-variant');
      expect(report.label).toBe('stories260k · RTN-4 g32');
      expect(report.kernels).toBe(kernels);
      if (kernels === 'webgpu') expect(report.adapter).toMatch(/swiftshader/i);
      expect(report.forward).toBe('typescript');
      expect(report.calibration).toMatchObject({ samples: 4, seqLen: 32 });
      expect(report.calibration.source).toMatch(/built-in/);
      expect(report.graph).toMatchObject({ linear: 'matmulnbits', packedLinears: 35 });
      expect(run.stderr).toMatch(/compress: 5\/5 layers/);

      // The folder the page's export writes.
      for (const f of [
        'config.json',
        'tokenizer.json',
        'model.safetensors',
        'onnx/model.onnx',
        'onnx/ctlab-graph.json',
        'ctlab-variant.json',
      ])
        expect(existsSync(join(out, f)), f).toBe(true);
      expect(JSON.parse(readFileSync(join(out, 'ctlab-variant.json'), 'utf8')).key).toBe(report.key);
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))['transformers.js_config']).toMatchObject({
        use_external_data_format: { 'model.onnx': 1 },
      });

      const dense = await safetensors(join(STORIES, 'model.safetensors'));
      const variant = await safetensors(join(out, 'model.safetensors'));
      expect(variant.names().sort()).toEqual(dense.names().sort());
      let linears = 0;
      for (const name of dense.names()) {
        const w = await dense.float32(name);
        const got = await variant.float32(name);
        if (!name.endsWith('_proj.weight')) {
          expect(Array.from(got), name).toEqual(Array.from(w));
          continue;
        }
        const [rows, cols] = dense.info(name).shape;
        const { settings } = report;
        const want = quantizeRtn(matrix(rows, cols, w), {
          bits: settings.bits,
          groupSize: groupLayout(cols, settings.groupSize).groupSize,
          sym: settings.sym,
          variant: 'gptq',
        });
        expect(Array.from(got), name).toEqual(Array.from(want.weight.data));
        expect(Array.from(got), name).not.toEqual(Array.from(w));
        linears++;
      }
      expect(linears).toBe(35);
    });
  }
});
