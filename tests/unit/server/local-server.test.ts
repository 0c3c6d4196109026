/**
 * The CLI's local server and the models middleware, as an attacker's page and an unlucky folder
 * would meet them: a real server on a loopback port, real files, links and headers.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp } from '../../../bin/lib/server.mjs';
import { parseRange } from '../../../server/safe-files.js';
import { testFaultsMiddleware } from '../../../server/test-faults-middleware';
import { modelsMiddleware } from '../../../server/models-middleware.js';

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the CLI server', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ctlab-server-'));
  const model = join(tmp, 'my-model');
  const data = join(tmp, 'data');
  const library = join(tmp, 'library');
  const body = '0123456789abcdefghij';
  const POLICY = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
  let server: Awaited<ReturnType<typeof serveApp>>;
  let port = 0;
  let modelPath = '';
  let dataPath = '';
  const savedEnv = process.env.CTLAB_MODELS_DIR;

  beforeAll(async () => {
    mkdirSync(join(model, '.git'), { recursive: true });
    writeFileSync(join(model, 'config.json'), '{}');
    writeFileSync(join(model, 'weights.bin'), body);
    writeFileSync(join(model, '.env'), 'SECRET=1');
    writeFileSync(join(model, '.git', 'config'), '[core]');
    symlinkSync('/etc', join(model, 'etc'));
    symlinkSync('/etc/hostname', join(model, 'hostname'));
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'x.json'), '[]');
    writeFileSync(join(data, '.netrc'), 'machine x');
    // A library with one good model, a dangling link, a dot-folder model and a link out.
    mkdirSync(join(library, 'good'), { recursive: true });
    writeFileSync(join(library, 'good', 'config.json'), '{}');
    writeFileSync(join(library, 'good', '.env'), 'SECRET=1');
    mkdirSync(join(library, '.hidden'), { recursive: true });
    writeFileSync(join(library, '.hidden', 'config.json'), '{}');
    symlinkSync(join(tmp, 'nowhere'), join(library, 'dangling'));
    symlinkSync(model, join(library, 'outside'));
    mkdirSync(join(tmp, 'dist'));
    writeFileSync(
      join(tmp, 'dist', 'index.html'),
      `<!doctype html><meta http-equiv="Content-Security-Policy" content="${POLICY}"><title>app</title>`,
    );
    process.env.CTLAB_MODELS_DIR = library;
    server = await serveApp({ root: tmp, dist: join(tmp, 'dist'), modelDirs: [model], dataDirs: [data], port: 0 });
    port = Number(new URL(server.origin).port);
    modelPath = new URL(server.modelUrls[0]).pathname;
    dataPath = new URL(server.dataUrls[0]).pathname;
  });
  afterAll(async () => {
    await server?.close();
    if (savedEnv === undefined) delete process.env.CTLAB_MODELS_DIR;
    else process.env.CTLAB_MODELS_DIR = savedEnv;
    rmSync(tmp, { recursive: true, force: true });
  });

  it("sends the built page's Content-Security-Policy as a header, so workers are held to it", async () => {
    for (const path of ['/', `${modelPath}/config.json`])
      expect((await get(port, path)).headers['content-security-policy'], path).toBe(POLICY);
  });

  it('sends COOP/COEP on every answer, page, model file and 404 alike, so the page is cross-origin isolated', async () => {
    for (const path of ['/', `${modelPath}/config.json`, '/cli-models/0000000000/x/none']) {
      const { headers } = await get(port, path);
      expect(headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(headers['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
  });

  it('answers only its own loopback origin (a DNS-rebinding page gets 403)', async () => {
    expect((await get(port, `${modelPath}/config.json`)).status).toBe(200);
    expect((await get(port, `${modelPath}/config.json`, { host: `localhost:${port}` })).status).toBe(200);
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`]) {
      const r = await get(port, `${modelPath}/config.json`, { host });
      expect(r.status, host).toBe(403);
      expect(r.body).not.toContain('{}');
    }
    expect((await get(port, '/models/index.json', { host: 'attacker.test' })).status).toBe(403);
  });

  it('serves no dotfile and nothing a link reaches outside the folder', async () => {
    for (const path of [
      `${modelPath}/.env`,
      `${modelPath}/.git/config`,
      `${modelPath}/etc/hostname`,
      `${modelPath}/hostname`,
      `${modelPath}/%2e%2e/data/x.json`,
      `${modelPath}/..%2fdata%2fx.json`,
      `${dataPath}.netrc`,
      '/models/good/.env',
      '/models/outside/config.json',
    ]) {
      const r = await get(port, path);
      expect(r.status, path).toBe(404);
    }
    expect((await get(port, `${dataPath}x.json`)).body).toBe('[]');
  });

  it('lists the library past a dangling link, without dotfiles or links out', async () => {
    const r = await get(port, '/models/index.json');
    expect(r.status).toBe(200);
    const { models } = JSON.parse(r.body) as { models: { name: string; files: { name: string }[] }[] };
    expect(models.map((m) => m.name)).toEqual(['good']);
    expect(models[0].files.map((f) => f.name)).toEqual(['config.json']);
  });

  it('answers bad ranges with 416 and stays up; a suffix range gets the last bytes', async () => {
    const url = `${modelPath}/weights.bin`;
    for (const range of ['bytes=100-50', 'bytes=15-3', 'bytes=20-', 'bytes=abc', 'bytes=-0', 'items=0-1', 'bytes=0-1,4-5']) {
      const r = await get(port, url, { range });
      expect(r.status, range).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${body.length}`);
    }
    const tail = await get(port, url, { range: 'bytes=-5' });
    expect([tail.status, tail.body]).toEqual([206, body.slice(-5)]);
    const mid = await get(port, url, { range: 'bytes=3-6' });
    expect([mid.status, mid.body]).toEqual([206, body.slice(3, 7)]);
    const past = await get(port, url, { range: 'bytes=18-99' });
    expect([past.status, past.body]).toEqual([206, body.slice(18)]);
    expect((await get(port, url)).body).toBe(body);
  });

  it('honours If-Range: a resume of another version of the file gets the whole current file', async () => {
    const url = `${modelPath}/weights.bin`;
    utimesSync(join(model, 'weights.bin'), 1_700_000_000, 1_700_000_000);
    const date = new Date(1_700_000_000_000).toUTCString();
    const same = await get(port, url, { range: 'bytes=5-', 'if-range': date });
    expect([same.status, same.body]).toEqual([206, body.slice(5)]);
    for (const ifRange of [new Date(1_600_000_000_000).toUTCString(), String(same.headers.etag), '"some-strong-etag"']) {
      const r = await get(port, url, { range: 'bytes=5-', 'if-range': ifRange });
      expect([r.status, r.body], ifRange).toEqual([200, body]);
    }
    // If-Range is looked at before the Range itself: a stale resume is not answered 416.
    expect((await get(port, url, { range: 'bytes=99-', 'if-range': 'W/"old"' })).status).toBe(200);
  });
});

describe('Range parsing', () => {
  it('follows RFC 9110 for single ranges', () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange('bytes=0-', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=9-9', 10)).toEqual({ start: 9, end: 9 });
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-4', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=-', 10)).toBe('unsatisfiable');
  });
});

describe('test-only fixtures', () => {
  it('a server start that stores no fixture leaves no folder behind', () => {
    const dir = join(tmpdir(), `ctlab-fixtures-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    testFaultsMiddleware(modelsMiddleware(null));
    expect(existsSync(dir)).toBe(false);
  });
});
