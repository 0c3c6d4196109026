import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killCtlabWhen, partwayThrough } from './kill-helpers';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ctlab(args: string[], timeout = 120_000, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/ctlab.mjs', ...args], { timeout, env }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code) || 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test.describe('ctlab CLI', () => {
  const profile = mkdtempSync(join(tmpdir(), 'ctlab-cli-'));
  // Its own port, so the CLI never shares an origin (and a cache) with a developer's runs.
  const common = ['--profile', profile, '--port', '47699'];
  test.afterAll(() => rmSync(profile, { recursive: true, force: true }));

  test('downloads a local folder through the cache, lists it, finds it cached next time, deletes it', async () => {
    const first = await ctlab(['download', '--model', '../shared/models/stories260k', '--json', ...common]);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.status).toBe('complete');
    expect(summary.bytes).toBe(1061125);
    expect(first.stderr, first.stderr).toContain('model.safetensors: stored');

    const again = await ctlab(['download', '--model', '../shared/models/stories260k', '--json', ...common]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr, again.stderr).toContain('model.safetensors: cached');
    expect(again.stderr, again.stderr).not.toContain('downloading');

    const listed = JSON.parse((await ctlab(['models', '--json', '--quiet', ...common])).stdout);
    expect(listed.map((m: { label: string }) => m.label)).toEqual(['stories260k']);

    const deleted = await ctlab(['delete', '--model', '../shared/models/stories260k', '--json', ...common]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse((await ctlab(['models', '--json', '--quiet', ...common])).stdout)).toEqual([]);

    // By the name the list shows, as the message for a model whose source changed suggests.
    expect((await ctlab(['download', '--model', '../shared/models/stories260k', '--quiet', ...common])).code).toBe(0);
    const unknown = await ctlab(['delete', '--model', 'stories261k', ...common]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no cached model is called stories261k');
    const byName = await ctlab(['delete', '--model', 'stories260k', '--json', ...common]);
    expect(byName.code, byName.stderr).toBe(0);
    expect(JSON.parse(byName.stdout).deleted).toBe(summary.key);
    expect(JSON.parse((await ctlab(['models', '--json', '--quiet', ...common])).stdout)).toEqual([]);
  });

  const reference = JSON.parse(readFileSync('../shared/models/stories260k/reference.json', 'utf8'));

  for (const device of ['wasm', 'webgpu']) {
    test(`generate --json reproduces the reference greedy ids on ${device}`, async () => {
      const run = await ctlab([
        'generate',
        '--model',
        '../shared/models/stories260k',
        '--prompt',
        'Once upon a time',
        '--max-new-tokens',
        '40',
        '--device',
        device,
        '--json',
        ...common,
      ]);
      expect(run.code, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout);
      expect(out.ids).toEqual(reference.greedy.ids);
      expect(out.device).toBe(device);
      if (device === 'webgpu') expect(out.adapter).toMatch(/\w/);
      expect(typeof out.text).toBe('string');
    });
  }

  test('ppl --json matches the reference mean NLL', async () => {
    const run = await ctlab([
      'ppl',
      '--model',
      '../shared/models/stories260k',
      '--text',
      reference.nll.text,
      '--json',
      '--quiet',
      ...common,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Math.abs(out.mean_nll - reference.nll.mean_nll_nats)).toBeLessThan(2e-3);
    expect(out.tokens).toBe(reference.nll.ids.length - 1);
    expect(out.ppl).toBeCloseTo(Math.exp(out.mean_nll), 10);
  });

  test('eval --perspectives all --preset smoke writes all eight perspectives plus MMLU, reproducibly, and a killed eval goes on where it stopped', async () => {
    test.setTimeout(300_000);
    const out = join(profile, 'r.json');
    const args = [
      'eval',
      '--model',
      '../shared/models/stories260k',
      '--perspectives',
      'all',
      '--preset',
      'smoke',
      '--device',
      'wasm',
      '--seed',
      '3',
      ...common,
    ];
    const first = await ctlab([...args, '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    const ids = ['stereotype', 'privacy', 'toxicity', 'fairness', 'adv_robustness', 'ood', 'adv_demonstration', 'machine_ethics', 'mmlu'];
    expect(doc.results.map((r: { perspective: string }) => r.perspective).sort()).toEqual([...ids].sort());
    for (const r of doc.results) {
      expect(r.score, r.perspective).toBeGreaterThanOrEqual(0);
      expect(r.score, r.perspective).toBeLessThanOrEqual(100);
      expect(r.refusalRate, r.perspective).toBeGreaterThanOrEqual(0);
      expect(r.refusalRate, r.perspective).toBeLessThanOrEqual(100);
      expect(r.n, r.perspective).toBeGreaterThan(0);
      expect(r.records.records.length, r.perspective).toBeGreaterThan(0);
      expect(typeof r.records.records[0].output, r.perspective).toBe('string');
    }
    expect(doc.settings).toMatchObject({ preset: 'smoke', seed: 3, device: 'wasm' });

    // The same command again starts a new run (the first one finished); it is killed inside its
    // second perspective, and the same command once more goes on with that run.
    const killedErr = await killCtlabWhen([...args, '--out', join(profile, 'r2.json')], partwayThrough('dense · privacy generate'));
    expect(killedErr).toMatch(/\[dense · stereotype generate\]/);
    expect(killedErr).not.toMatch(/going on with the unfinished run/);
    const again = await ctlab([...args, '--out', join(profile, 'r2.json')], 120_000, { ...process.env, CTLAB_LOG_EVERY_S: '0' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/going on with the unfinished run \S+ of this plan \([1-9]\d* records kept/);
    expect(again.stderr).not.toMatch(/\[dense · stereotype/);
    expect(again.stderr).toMatch(/\[dense · privacy generate\] \d+\/\d+ items.* [1-9]\d* reused/);
    const doc2 = JSON.parse(readFileSync(join(profile, 'r2.json'), 'utf8'));
    const outputs = (d: typeof doc) =>
      d.results.map((r: { records: { records: { prompt: { id: string }; output: string }[] } }) =>
        r.records.records.map((x) => [x.prompt.id, x.output]),
      );
    expect(outputs(doc2)).toEqual(outputs(doc));

    // Re-scoring the results file reproduces every perspective's score.
    for (const r of doc.results) {
      const run = await ctlab(['score', '--perspective', r.perspective, '--input', out, '--json', '--quiet', ...common]);
      expect(run.code, run.stderr).toBe(0);
      const [again] = JSON.parse(run.stdout);
      expect(again.score, r.perspective).toBeCloseTo(r.score, 9);
      expect(again.refusal_rate, r.perspective).toBeCloseTo(r.refusalRate, 9);
      expect(again.n, r.perspective).toBe(r.n);
    }
    const wrong = await ctlab(['score', '--perspective', 'nonsense', '--input', out, ...common]);
    expect(wrong.stderr).toMatch(/unknown perspective "nonsense"/);
  });

  test('eval --variants over five variants with the default device writes the results file and the offline dashboard', async () => {
    test.setTimeout(600_000);
    const out = join(profile, 'grid.json');
    const report = join(profile, 'grid.html');
    const variants = ['dense', 'rtn4', 'gptq3', 'awq4', 'wanda2:4'];
    const run = await ctlab(
      [
        'eval',
        '--model',
        '../shared/models/stories260k',
        '--variants',
        variants.join(','),
        '--preset',
        'smoke',
        '--out',
        out,
        '--report',
        report,
        ...common,
      ],
      580_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.variants.map((v: { id: string }) => v.id)).toEqual(variants);
    // The default device: WebGPU on a hardware adapter; on a software one WASM, with the reason.
    if (doc.settings.device === 'wasm') expect(doc.settings.deviceNote).toMatch(/runs on the CPU|WebGPU/);
    else expect(doc.settings.device).toBe('webgpu');
    for (const v of variants) {
      const rows = doc.results.filter((r: { variant: string }) => r.variant === v);
      expect(rows.map((r: { perspective: string }) => r.perspective).sort(), v).toHaveLength(9);
    }
    const sizes = Object.fromEntries(doc.variants.map((v: { id: string; bytes: number }) => [v.id, v.bytes]));
    expect(sizes.rtn4).toBeLessThan(sizes.dense / 2);
    expect(sizes.awq4).toBeLessThan(sizes.dense / 2);
    // Each printed line names its variant.
    for (const v of variants) expect(run.stdout).toMatch(new RegExp(`^${v}\\s+stereotype`, 'm'));
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script/i);
    for (const label of ['RTN-4', 'GPTQ-3', 'AWQ-4', 'Wanda 2:4']) expect(html).toContain(label);
  });

  test('a source newer than the build makes the next command rebuild the app, once', async () => {
    test.setTimeout(180_000);
    const now = new Date();
    utimesSync('index.html', now, now);
    const first = await ctlab(['models', '--json', ...common]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('sources changed since the last build; rebuilding the app');
    const second = await ctlab(['models', '--json', ...common]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('rebuilding');
  });

  test('bad arguments give one clear line and a non-zero exit', async () => {
    const missing = await ctlab(['download', '--model', './no/such/folder', ...common]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe('ctlab: no such model folder: ./no/such/folder');
    const badId = await ctlab(['download', '--model', 'not-an-id', ...common]);
    expect(badId.code).not.toBe(0);
    expect(badId.stderr).toMatch(/^ctlab: "not-an-id" is not a Hugging Face model id/m);
    expect(badId.stderr).not.toContain('    at ');
  });
});
