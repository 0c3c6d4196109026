import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killCtlabWhen, partwayThrough } from './kill-helpers';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeout: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code) || 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const ctlab = (args: string[], timeout = 900_000) => run('node', ['bin/ctlab.mjs', ...args], timeout);

const MODEL = '../shared/models/stories260k';
const PLAN = ['--model', MODEL, '--variants', 'dense,rtn4,gptq3', '--perspectives', 'all', '--preset', 'smoke', '--device', 'wasm'];
/** Each process its own port and browser profile: a shard's stored runs belong to its origin and profile. */
const PORTS = { single: 47681, shards: [47682, 47683, 47684], merge: 47685 };

/** Everything but what a machine or a moment decides: cache keys name the port, tokens/s and compression times vary. */
function comparable(doc: { createdAt?: string; model?: unknown; variants?: Record<string, unknown>[] }) {
  const { createdAt: _c, model: _m, variants, ...rest } = doc;
  return {
    ...rest,
    variants: variants?.map((v) => ({ id: v.id, label: v.label, bytes: v.bytes, device: v.device, precision: v.precision })),
  };
}

test.describe('sharded runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctlab-shards-'));
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('three shards under GNU parallel, one killed and restarted, merge into the single run; a lost shard is named', async () => {
    test.setTimeout(3_600_000);
    expect(existsSync('/usr/bin/parallel'), 'GNU parallel (Debian package parallel; .ci/run installs it)').toBe(true);

    const plan = await ctlab(['plan', ...PLAN, '--json', '--quiet', '--profile', join(dir, 'plan'), '--port', String(PORTS.merge)]);
    expect(plan.code, plan.stderr).toBe(0);
    const units = JSON.parse(plan.stdout);
    expect(units.units.filter((u: { kind: string }) => u.kind === 'evaluate')).toHaveLength(27);
    expect(units.units.filter((u: { kind: string }) => u.kind === 'compress').map((u: { id: string }) => u.id)).toEqual([
      's0/compress/rtn4',
      's0/compress/gptq3',
    ]);

    // Shard 0 (dense) is killed once its first perspective is stored, then runs again under parallel below.
    const shard = (k: number) => [
      'eval',
      ...PLAN,
      '--shard',
      `${k}/3`,
      '--profile',
      join(dir, `profile-${k}`),
      '--port',
      String(PORTS.shards[k]),
      '--out',
      join(dir, `r${k}.json`),
    ];
    // Into the second perspective, with some but not all of its records stored.
    await killCtlabWhen(shard(0), partwayThrough('dense · privacy generate'));
    expect(existsSync(join(dir, 'r0.json'))).toBe(false);

    // The three shards at once, as on a workstation: `parallel … ::: 0 1 2`.
    const line = `node bin/ctlab.mjs eval ${PLAN.join(' ')} --shard {}/3 --profile ${dir}/profile-{} --port $((${PORTS.shards[0]}+{})) --out ${dir}/r{}.json 2> ${dir}/err{}`;
    const par = await run('parallel', ['--jobs', '3', '--halt', 'now,fail=1', line, ':::', '0', '1', '2'], 3_000_000);
    expect(
      par.code,
      `${par.stderr}\n${['0', '1', '2'].map((k) => readFileSync(join(dir, `err${k}`), 'utf8').slice(-2000)).join('\n')}`,
    ).toBe(0);
    const err0 = readFileSync(join(dir, 'err0'), 'utf8');
    // The restarted shard evaluated no stored perspective again and reused the stored records of the one it was killed in.
    expect(err0).not.toMatch(/\[dense · stereotype/);
    expect(err0).toMatch(/\[dense · privacy generate\] \d+\/\d+ items.* [1-9]\d* reused/);
    // Shards compress only the variant they evaluate.
    for (const [k, v] of [
      [1, 'rtn4'],
      [2, 'gptq3'],
    ] as const) {
      const err = readFileSync(join(dir, `err${k}`), 'utf8');
      expect(err).toMatch(new RegExp(`\\[${v}\\] compress`));
      expect(err).not.toMatch(new RegExp(`\\[${k === 1 ? 'gptq3' : 'rtn4'}\\] compress`));
    }
    const shards = [0, 1, 2].map((k) => JSON.parse(readFileSync(join(dir, `r${k}.json`), 'utf8')));
    for (const [k, s] of shards.entries()) {
      expect(s.plan.id).toBe(units.id);
      expect(s.plan.shard).toEqual({ index: k, count: 3 });
      expect(s.results.map((r: { variant: string }) => r.variant)).toEqual(Array(9).fill(['dense', 'rtn4', 'gptq3'][k]));
    }

    const single = await ctlab([
      'eval',
      ...PLAN,
      '--profile',
      join(dir, 'single'),
      '--port',
      String(PORTS.single),
      '--out',
      join(dir, 'single.json'),
    ]);
    expect(single.code, single.stderr).toBe(0);
    const whole = JSON.parse(readFileSync(join(dir, 'single.json'), 'utf8'));

    const common = ['--profile', join(dir, 'merge'), '--port', String(PORTS.merge)];
    const files = [2, 0, 1].map((k) => join(dir, `r${k}.json`));
    const merged = await ctlab(['merge', ...files, '--out', join(dir, 'merged.json'), '--report', join(dir, 'merged.html'), ...common]);
    expect(merged.code, merged.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8'));
    // Scores, intervals' inputs (score, n) and every record, byte for byte.
    expect(JSON.stringify(doc.results)).toBe(JSON.stringify(whole.results));
    expect(comparable(doc)).toEqual(comparable(whole));
    expect(readFileSync(join(dir, 'merged.html'), 'utf8')).toContain('GPTQ-3');

    // A lost shard: merge names its units and writes nothing.
    rmSync(join(dir, 'r1.json'));
    const lost = await ctlab(['merge', files[0], files[1], '--out', join(dir, 'partial.json'), ...common]);
    expect(lost.code).not.toBe(0);
    expect(lost.stderr).toContain(`9 of 27 units of plan ${units.id} are in no file`);
    for (const u of shards[1].plan.units) expect(lost.stderr).toContain(u);
    expect(existsSync(join(dir, 'partial.json'))).toBe(false);
  });
  test('a shard given an exported variant folder loads it instead of compressing', async () => {
    test.setTimeout(900_000);
    const folder = join(dir, 'rtn4');
    const made = await ctlab([
      'compress',
      '--model',
      MODEL,
      '--method',
      'rtn',
      '--bits',
      '4',
      '--out',
      folder,
      '--quiet',
      '--profile',
      join(dir, 'compress'),
      '--port',
      '47686',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const args = ['--model', MODEL, '--variants', 'dense,rtn4', '--perspectives', 'mmlu', '--preset', 'smoke', '--device', 'wasm'];
    const run = await ctlab([
      'eval',
      ...args,
      '--shard',
      '1/2',
      '--variant-dir',
      `rtn4=${folder}`,
      '--profile',
      join(dir, 'given'),
      '--port',
      '47687',
      '--out',
      join(dir, 'given.json'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/\[rtn4 · mmlu generate\]/);
    expect(run.stderr).not.toMatch(/\[rtn4\] compress/);
    const doc = JSON.parse(readFileSync(join(dir, 'given.json'), 'utf8'));
    expect(doc.results.map((r: { variant: string; perspective: string }) => `${r.variant}|${r.perspective}`)).toEqual(['rtn4|mmlu']);
    const rtn4 = doc.variants.find((v: { id: string }) => v.id === 'rtn4');
    expect(rtn4.key).toMatch(/^url:http:\/\/127\.0\.0\.1:47687\/cli-models\/[0-9a-f]+\/rtn4$/);
    expect(rtn4.bytes).toBeGreaterThan(0);
  });
  test('--seeds runs the plan per seed; shards split the seeds and merge into the same file; the report shows the spread', async () => {
    test.setTimeout(1_200_000);
    const args = ['eval', '--model', MODEL, '--perspectives', 'fairness,mmlu', '--preset', 'smoke', '--device', 'wasm', '--seeds', '0,1'];
    const at = (name: string, port: number) => ['--profile', join(dir, name), '--port', String(port)];
    const single = await ctlab([...args, ...at('seeds', 47688), '--out', join(dir, 'seeds.json')]);
    expect(single.code, single.stderr).toBe(0);
    const whole = JSON.parse(readFileSync(join(dir, 'seeds.json'), 'utf8'));
    expect(whole.settings.seeds).toEqual([0, 1]);
    expect(whole.results.map((r: { seed: number; perspective: string }) => `${r.seed}/${r.perspective}`)).toEqual([
      '0/fairness',
      '0/mmlu',
      '1/fairness',
      '1/mmlu',
    ]);
    // Each seed's entries were computed by a run of that seed.
    for (const r of whole.results) expect(r.run.seed).toBe(r.seed);

    for (const k of [0, 1]) {
      const shard = await ctlab([...args, '--shard', `${k}/2`, ...at(`seeds-${k}`, 47686 + k), '--out', join(dir, `seeds-r${k}.json`)]);
      expect(shard.code, shard.stderr).toBe(0);
    }
    const merged = await ctlab([
      'merge',
      join(dir, 'seeds-r1.json'),
      join(dir, 'seeds-r0.json'),
      '--out',
      join(dir, 'seeds-merged.json'),
      '--report',
      join(dir, 'seeds.html'),
      ...at('seeds-merge', 47685),
    ]);
    expect(merged.code, merged.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, 'seeds-merged.json'), 'utf8'));
    expect(JSON.stringify(doc.results)).toBe(JSON.stringify(whole.results));
    expect(comparable(doc)).toEqual(comparable(whole));
    const html = readFileSync(join(dir, 'seeds.html'), 'utf8');
    expect(html).toContain('Across seeds 0, 1');
    expect(html).toMatch(/<small>sd \d+\.\d<\/small>/);
  });
});
