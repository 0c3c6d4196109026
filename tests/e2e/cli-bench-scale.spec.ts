import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SMOL = 'HuggingFaceTB/SmolLM2-135M-Instruct';

function ctlab(args: string[], timeout = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/ctlab.mjs', ...args], { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code) || 1 : 0, stdout, stderr });
    });
  });
}

/** Elements of every tensor in a safetensors file, from its header. */
function tensorElements(file: string): number {
  const bytes = readFileSync(file);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<
    string,
    { shape?: number[] }
  >;
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .reduce((sum, [, t]) => sum + (t.shape ?? []).reduce((a, b) => a * b, 1), 0);
}

/** A measured figure: there, a number, finite and above zero. Its size is the benchmark's business. */
function expectMeasured(obj: Record<string, unknown>, keys: string[], where: string) {
  for (const key of keys) {
    const v = obj[key];
    expect(typeof v, `${where}.${key} = ${String(v)}`).toBe('number');
    expect(Number.isFinite(v) && (v as number) > 0, `${where}.${key} = ${String(v)}`).toBe(true);
  }
}

test.describe('ctlab bench scale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctlab-cli-scale-'));
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('measures a two-layer SmolLM2-135M shape on WASM: download, build, memory and speed, all present', async () => {
    test.setTimeout(240_000);
    const shapes = join(dir, 'shapes');
    const run = await ctlab([
      'bench',
      'scale',
      '--models',
      SMOL,
      '--layers',
      '2',
      '--devices',
      'wasm',
      '--prompt-tokens',
      '16',
      '--new-tokens',
      '4',
      '--out-dir',
      shapes,
      '--port',
      '47699',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r).toMatchObject({ benchmark: 'scale', promptTokens: 16, newTokens: 4, devices: ['wasm'] });
    expect(r.memory).toMatch(/^(PSS|RSS|PSS\+RSS|RSS\+PSS) of every process of the browser/);
    expect(r.shapes).toHaveLength(1);
    const s = r.shapes[0];
    expect(s.error).toBeUndefined();
    expect(s.model).toBe(SMOL);
    expect(s.layers).toBe(2);
    // The checkpoint was written into --out-dir; SmolLM2 ties its head, so the file holds each parameter once.
    const folder = join(shapes, 'layers-2', 'HuggingFaceTB--SmolLM2-135M-Instruct');
    expect(existsSync(`${folder}.complete`)).toBe(true);
    expect(s.params).toBe(tensorElements(join(folder, 'model.safetensors')));
    expect(s.fp32Bytes).toBe(4 * s.params);
    expectMeasured(
      s,
      ['checkpointBytes', 'downloadSeconds', 'buildSeconds', 'firstLoadSeconds', 'peakBytes', 'peakGeneratingBytes', 'peakGeneratingRatio'],
      'shape',
    );
    expect(s.devices).toHaveLength(1);
    const d = s.devices[0];
    expect(d.error).toBeUndefined();
    expect(d).toMatchObject({ device: 'wasm', adapter: null, promptTokens: 16, newTokens: 4 });
    expectMeasured(
      d,
      [
        'loadSeconds',
        'sessionSeconds',
        'prefillTokensPerSecond',
        'decodeTokensPerSecond',
        'idleBytes',
        'peakBytes',
        'peakGeneratingBytes',
        'peakGeneratingRatio',
        'modelGeneratingRatio',
      ],
      'wasm',
    );
    // The idle browser is part of every later sample, so the model's share is the smaller ratio.
    expect(d.idleBytes).toBeLessThan(d.peakGeneratingBytes);
    expect(d.modelGeneratingRatio).toBeCloseTo((d.peakGeneratingBytes - d.idleBytes) / s.fp32Bytes, 9);
    expect(d.loadSeconds).toBeGreaterThanOrEqual(d.sessionSeconds);
    expect(d.peakGeneratingBytes).toBeLessThanOrEqual(d.peakBytes);
    expect(s.firstLoadSeconds).toBe(d.loadSeconds);
  });

  test('bad bench scale arguments give one clear line and a non-zero exit', async () => {
    const unknown = await ctlab(['bench', 'scale', '--models', 'org/nothing', '--out-dir', join(dir, 'none'), '--port', '47699']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^ctlab: unknown model org\/nothing; the shapes are those of src\/lib\/model\/known-models\.json: /m);
    const device = await ctlab(['bench', 'scale', '--devices', 'cuda']);
    expect(device.stderr.trim()).toBe('ctlab: --devices takes wasm and/or webgpu, not cuda');
    const tokens = await ctlab(['bench', 'scale', '--new-tokens', '1']);
    expect(tokens.stderr.trim()).toBe('ctlab: --new-tokens must be an integer of at least 2, not 1');
  });
});
