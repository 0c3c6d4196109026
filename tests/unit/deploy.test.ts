/**
 * The scheduler files ship untried by any container runtime or cluster here, so they are checked
 * for what can break without one: the Dockerfile by the linter behind VS Code's Dockerfile
 * diagnostics, the Slurm script by `bash -n`, the Kubernetes manifests by a YAML parser, and
 * every ctlab option they pass against the CLI's own option table.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DockerfileParser, type Copy } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(resolve(root, p), 'utf8');

/** The long options `bin/ctlab.mjs` accepts. */
const cliOptions = new Set([...read('bin/ctlab.mjs').matchAll(/^ {4}'?([a-z-]+)'?: \{ type: '(?:string|boolean)'/gm)].map((m) => m[1]));

function expectKnownOptions(args: string[], where: string) {
  const used = args.flatMap((a) => [...a.matchAll(/(?:^|\s)--([a-z][a-z-]*)/g)].map((m) => m[1]));
  expect(used.length, where).toBeGreaterThan(0);
  for (const o of used) expect(cliOptions.has(o), `${where}: --${o}`).toBe(true);
}

describe('Dockerfile', () => {
  const text = read('Dockerfile');

  it('has no lint problems', () => {
    expect(validate(text)).toEqual([]);
    // The linter does see problems, so an empty list means something.
    expect(validate(`${text}\nEXPOSE not-a-port\n`).map((d) => d.message)).toEqual(['Invalid containerPort: not-a-port']);
  });

  it('runs the built app with Debian Chromium and ctlab as the entry point', () => {
    const df = DockerfileParser.parse(text);
    const froms = df.getFROMs();
    const last = froms[froms.length - 1];
    expect(last.getImageName()).toBe('node');
    expect(last.getImageTag()).toMatch(/bookworm/);
    const runs = df.getInstructions().filter((i) => i.getKeyword() === 'RUN' && i.getRange().start.line > last.getRange().start.line);
    expect(runs.some((r) => /apt-get install[^&]*\bchromium\b/.test(r.getArgumentsContent() ?? ''))).toBe(true);
    const copied = df
      .getInstructions()
      .filter((i): i is Copy => i.getKeyword() === 'COPY' && (i as Copy).getFromFlag?.()?.getValue() === 'build')
      .map((c) => c.getArgumentsContent() ?? '');
    for (const dir of ['dist', 'bin', 'server', 'node_modules'])
      expect(
        copied.some((c) => c.includes(`/app/${dir} `)),
        dir,
      ).toBe(true);
    expect(df.getENTRYPOINTs()[0].getArgumentsContent()).toBe('["node", "/app/bin/ctlab.mjs"]');
  });
});

describe('Slurm job array', () => {
  const path = resolve(root, 'docs/slurm/ctlab-array.sh');
  const text = read('docs/slurm/ctlab-array.sh');

  it('passes bash -n and runs shard SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, then a merge', () => {
    execFileSync('bash', ['-n', path]);
    expect(text).toContain('INDEX=${SLURM_ARRAY_TASK_ID');
    expect(text).toContain('COUNT=${SHARDS:-${SLURM_ARRAY_TASK_COUNT');
    expect(text).toContain('--shard "$INDEX/$COUNT"');
    expect(text).toMatch(/\$CTLAB merge "\$WORK"\/results\/r\*\.json --out/);
    // The ctlab command lines, continuations joined.
    const commands = [...text.replace(/\\\n/g, ' ').matchAll(/^\s*exec \$CTLAB (.*)$/gm)].map((m) => m[1]);
    expect(commands).toHaveLength(2);
    expectKnownOptions(commands, 'ctlab-array.sh');
  });
});

describe('Kubernetes manifests', () => {
  const docs = parseAllDocuments(read('docs/k8s/ctlab-indexed-job.yaml'));
  const merge = parseAllDocuments(read('docs/k8s/ctlab-merge-job.yaml'));

  it('parse', () => {
    for (const d of [...docs, ...merge]) expect(d.errors).toEqual([]);
  });

  it('run one shard per completion index, --shard INDEX/completions, each index with its own profile', () => {
    const job = docs.map((d) => d.toJS()).find((o) => o.kind === 'Job');
    expect(job.spec.completionMode).toBe('Indexed');
    const n = job.spec.completions;
    expect(n).toBeGreaterThan(1);
    const [container] = job.spec.template.spec.containers;
    const args: string[] = container.args;
    expect(args[0]).toBe('eval');
    expect(args[args.indexOf('--shard') + 1]).toBe(`$(JOB_COMPLETION_INDEX)/${n}`);
    expect(args[args.indexOf('--out') + 1]).toContain('$(JOB_COMPLETION_INDEX)');
    expect(container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/home/node/.cache/ctlab').subPathExpr).toContain(
      '$(JOB_COMPLETION_INDEX)',
    );
    expectKnownOptions(args, 'indexed job');
  });

  it('merge the shards of the same volume', () => {
    const job = merge[0].toJS();
    expect(job.kind).toBe('Job');
    const cmd: string = job.spec.template.spec.containers[0].args.join(' ');
    expect(cmd).toMatch(/ctlab\.mjs merge \/work\/results\/r\*\.json --out /);
    expectKnownOptions([cmd], 'merge job');
  });
});
