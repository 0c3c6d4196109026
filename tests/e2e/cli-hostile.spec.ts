/**
 * `ctlab` under attack while it works: a scripted client sends every kind of bad request to the
 * CLI's local server during an eval (a foreign Host as a DNS-rebinding page would, dotfiles, links
 * out of the served folders, bad ranges, malformed paths), and the eval must finish with the
 * results of a clean run while every bad request is refused.
 */
import { expect, test } from '@playwright/test';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PORT = 47696;

function ctlab(args: string[], timeout = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('node', ['bin/ctlab.mjs', ...args], { timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code) || 1 : 0, stdout, stderr });
    });
  });
}

/** One raw request; resolves with the status (0 when the connection failed). */
function send(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port: PORT, path, headers, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', () => done(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The URL prefix the CLI serves a model folder at (a hash of its absolute path, as bin/lib/server.mjs makes it). */
const servedAt = (dir: string, name: string) =>
  `/cli-models/${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 10)}/${encodeURIComponent(name)}`;

test('ctlab survives hostile requests during an eval, and its results equal a clean run', async () => {
  test.setTimeout(1_200_000);
  const tmp = mkdtempSync(join(tmpdir(), 'ctlab-hostile-'));
  try {
    // The model folder a user might have: the checkpoint plus secrets and links that must stay private.
    const model = join(tmp, 'stories260k');
    cpSync('../shared/models/stories260k', model, { recursive: true });
    writeFileSync(join(model, '.env'), 'HF_TOKEN=secret');
    mkdirSync(join(model, '.git'));
    writeFileSync(join(model, '.git', 'config'), '[remote "origin"]');
    symlinkSync('/etc', join(model, 'etc'));
    symlinkSync(join(tmp, 'nowhere'), join(model, 'dangling'));
    const base = servedAt(model, 'stories260k');
    const host = `127.0.0.1:${PORT}`;
    const attacks: Array<{ path: string; headers: Record<string, string>; expect: number[] }> = [
      { path: `${base}/config.json`, headers: { host: 'rebind.attacker.example' }, expect: [403] },
      { path: `${base}/config.json`, headers: { host: `attacker.example:${PORT}` }, expect: [403] },
      { path: '/models/index.json', headers: { host: 'rebind.attacker.example' }, expect: [403] },
      { path: `${base}/.env`, headers: { host }, expect: [404] },
      { path: `${base}/.git/config`, headers: { host }, expect: [404] },
      { path: `${base}/etc/passwd`, headers: { host }, expect: [404] },
      { path: `${base}/dangling`, headers: { host }, expect: [404] },
      { path: `${base}/%2e%2e/%2e%2e/etc/passwd`, headers: { host }, expect: [404] },
      { path: `${base}/%E0%A4%A`, headers: { host }, expect: [404] },
      { path: `${base}/model.safetensors`, headers: { host, range: 'bytes=100-50' }, expect: [416] },
      { path: `${base}/model.safetensors`, headers: { host, range: 'bytes=99999999-' }, expect: [416] },
      { path: `${base}/model.safetensors`, headers: { host, range: 'bytes=--1' }, expect: [416] },
    ];
    const args = ['eval', '--model', model, '--perspectives', 'fairness,ood,mmlu', '--preset', 'smoke', '--device', 'wasm', '--seed', '5'];

    const profile = join(tmp, 'profile');
    const clean = await ctlab([...args, '--out', join(tmp, 'clean.json'), '--profile', profile, '--port', String(PORT), '--quiet']);
    expect(clean.code, clean.stderr).toBe(0);

    // The same eval again, under fire from the first request it could answer to the last.
    const child = spawn(
      'node',
      ['bin/ctlab.mjs', ...args, '--out', join(tmp, 'attacked.json'), '--profile', profile, '--port', String(PORT), '--quiet'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number>((done) => child.on('exit', (code) => done(code ?? 1)));
    let running = true;
    void exited.then(() => (running = false));
    const answers: Array<{ path: string; status: number; want: number[] }> = [];
    let rounds = 0;
    while (running && rounds < 200) {
      const statuses = await Promise.all(attacks.map((a) => send(a.path, a.headers)));
      if (statuses.every((s) => s === 0)) {
        await new Promise((r) => setTimeout(r, 200)); // the server is not up yet (or has closed)
        continue;
      }
      attacks.forEach((a, i) => statuses[i] !== 0 && answers.push({ path: a.path, status: statuses[i], want: a.expect }));
      rounds++;
      await new Promise((r) => setTimeout(r, 100));
    }
    const code = await exited;
    expect(code, stderr).toBe(0);
    expect(rounds, 'the attack never reached the server').toBeGreaterThan(0);
    for (const a of answers) expect(a.want, `${a.path}: ${a.status}`).toContain(a.status);

    const strip = (file: string) => {
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      return doc.results.map(
        (r: { perspective: string; score: number; n: number; records: { records: { prompt: { id: string }; output: string }[] } }) => ({
          perspective: r.perspective,
          score: r.score,
          n: r.n,
          outputs: r.records.records.map((x) => [x.prompt.id, x.output]),
        }),
      );
    };
    expect(strip(join(tmp, 'attacked.json'))).toEqual(strip(join(tmp, 'clean.json')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
