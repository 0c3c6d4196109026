/**
 * The export upload endpoint of the CLI's server (`ctlab compress --out`), through the real
 * server on a loopback port: what one export announced is written, nothing else anywhere.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp } from '../../../bin/lib/server.mjs';
import { TOKEN_HEADER, UPLOAD_PATH } from '../../../bin/lib/upload.mjs';

interface Reply {
  status: number;
  body: string;
}

function put(port: number, query: Record<string, string>, body: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `${UPLOAD_PATH}?${new URLSearchParams(query)}`,
        headers: { host: `127.0.0.1:${port}`, 'content-length': String(body.length), ...headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the export upload endpoint', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ctlab-upload-'));
  const out = join(tmp, 'out');
  const outside = join(tmp, 'outside');
  let server: Awaited<ReturnType<typeof serveApp>>;
  let port = 0;

  beforeAll(async () => {
    mkdirSync(join(tmp, 'dist'));
    writeFileSync(join(tmp, 'dist', 'index.html'), '<!doctype html><title>app</title>');
    mkdirSync(outside);
    server = await serveApp({ root: tmp, dist: join(tmp, 'dist'), modelDirs: [], port: 0 });
    port = Number(new URL(server.origin).port);
  });
  afterAll(async () => {
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('writes the announced files from their slices, in any order, each byte once, and reports the bytes', async () => {
    const seen: [string, number, number][] = [];
    const a = Buffer.from('abcdefghij');
    const session = server.uploads.open(
      out,
      [
        { path: 'model.safetensors', bytes: a.length },
        { path: 'onnx/model.onnx', bytes: 3 },
        { path: 'empty.json', bytes: 0 },
      ],
      (path, done, total) => seen.push([path, done, total]),
    );
    const auth = { [TOKEN_HEADER]: session.token };
    expect((await put(port, { path: 'model.safetensors', offset: '0' }, a.subarray(0, 4), auth)).status).toBe(204);
    // Slices may come in any order (several are in flight), but a byte sent twice is refused.
    expect((await put(port, { path: 'model.safetensors', offset: '6' }, a.subarray(6), auth)).status).toBe(204);
    expect((await put(port, { path: 'model.safetensors', offset: '3' }, a.subarray(3, 6), auth)).status).toBe(409);
    expect((await put(port, { path: 'model.safetensors', offset: '4' }, a.subarray(4, 7), auth)).status).toBe(409);
    expect((await put(port, { path: 'model.safetensors', offset: '4' }, a.subarray(4, 6), auth)).status).toBe(204);
    // A complete file takes nothing more, not even an empty slice.
    expect((await put(port, { path: 'model.safetensors', offset: '10' }, Buffer.alloc(0), auth)).status).toBe(409);
    // More than announced is refused.
    expect((await put(port, { path: 'onnx/model.onnx', offset: '0' }, Buffer.from('xyzw'), auth)).status).toBe(413);
    expect((await put(port, { path: 'onnx/model.onnx', offset: '0' }, Buffer.from('xyz'), auth)).status).toBe(204);
    expect((await put(port, { path: 'empty.json', offset: '0' }, Buffer.alloc(0), auth)).status).toBe(204);
    await session.finish();
    expect(readFileSync(join(out, 'model.safetensors'), 'utf8')).toBe('abcdefghij');
    expect(readFileSync(join(out, 'onnx/model.onnx'), 'utf8')).toBe('xyz');
    expect(readFileSync(join(out, 'empty.json'), 'utf8')).toBe('');
    expect(seen).toEqual([
      ['model.safetensors', 4, 10],
      ['model.safetensors', 8, 10],
      ['model.safetensors', 10, 10],
      ['onnx/model.onnx', 3, 3],
      ['empty.json', 0, 0],
    ]);
    // The token was for one export only.
    expect((await put(port, { path: 'empty.json', offset: '0' }, Buffer.alloc(0), auth)).status).toBe(403);
  });

  it('writes a file from slices sent at once, each in several socket chunks', async () => {
    const bytes = Buffer.alloc(3 * 5_000_000 + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 9)) & 0xff;
    const slice = 5_000_000;
    const session = server.uploads.open(join(tmp, 'out6'), [{ path: 'big.bin', bytes: bytes.length }], () => {});
    const auth = { [TOKEN_HEADER]: session.token };
    const replies = await Promise.all(
      [3, 1, 0, 2].map((k) => put(port, { path: 'big.bin', offset: String(k * slice) }, bytes.subarray(k * slice, (k + 1) * slice), auth)),
    );
    expect(replies.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    await session.finish();
    expect(readFileSync(join(tmp, 'out6', 'big.bin')).equals(bytes)).toBe(true);
  });

  it('refuses a wrong or missing token, and finish names the file that did not arrive', async () => {
    const session = server.uploads.open(join(tmp, 'out2'), [{ path: 'a.bin', bytes: 2 }], () => {});
    const wrong = `${session.token.slice(0, -1)}${session.token.endsWith('0') ? '1' : '0'}`;
    const bad = await put(port, { path: 'a.bin', offset: '0' }, Buffer.from('hi'), { [TOKEN_HEADER]: wrong });
    expect(bad).toEqual({ status: 403, body: 'wrong or missing upload token' });
    expect((await put(port, { path: 'a.bin', offset: '0' }, Buffer.from('hi'))).status).toBe(403);
    expect(existsSync(join(tmp, 'out2', 'a.bin'))).toBe(false);
    await expect(session.finish()).rejects.toThrow('export incomplete: a.bin has 0 of 2 bytes');
  });

  it('refuses paths that leave the folder, in the announcement and in a request', async () => {
    expect(() => server.uploads.open(join(tmp, 'out3'), [{ path: '../escape.bin', bytes: 1 }], () => {})).toThrow(/not a file inside/);
    expect(() => server.uploads.open(join(tmp, 'out3'), [{ path: join(outside, 'abs.bin'), bytes: 1 }], () => {})).toThrow(
      /not a file inside/,
    );
    const session = server.uploads.open(join(tmp, 'out3'), [{ path: 'ok.bin', bytes: 1 }], () => {});
    const auth = { [TOKEN_HEADER]: session.token };
    for (const path of ['../escape.bin', '../outside/x.bin', join(outside, 'abs.bin'), 'ok.bin/../../escape.bin']) {
      const r = await put(port, { path, offset: '0' }, Buffer.from('x'), auth);
      expect(r.status, path).toBe(403);
    }
    expect(existsSync(join(tmp, 'escape.bin'))).toBe(false);
    expect(existsSync(join(outside, 'x.bin'))).toBe(false);
    expect(existsSync(join(outside, 'abs.bin'))).toBe(false);
    await session.close();
  });

  it('does not follow a link inside the folder to somewhere outside it', async () => {
    const dir = join(tmp, 'out4');
    mkdirSync(dir);
    symlinkSync(outside, join(dir, 'onnx'));
    writeFileSync(join(outside, 'target.bin'), 'keep');
    symlinkSync(join(outside, 'target.bin'), join(dir, 'model.bin'));
    const session = server.uploads.open(
      dir,
      [
        { path: 'onnx/model.onnx', bytes: 1 },
        { path: 'model.bin', bytes: 1 },
      ],
      () => {},
    );
    const auth = { [TOKEN_HEADER]: session.token };
    expect((await put(port, { path: 'onnx/model.onnx', offset: '0' }, Buffer.from('x'), auth)).status).toBe(403);
    expect((await put(port, { path: 'model.bin', offset: '0' }, Buffer.from('x'), auth)).status).toBe(403);
    expect(existsSync(join(outside, 'model.onnx'))).toBe(false);
    expect(readFileSync(join(outside, 'target.bin'), 'utf8')).toBe('keep');
    await session.close();
  });

  it('answers only on its own origin', async () => {
    const session = server.uploads.open(join(tmp, 'out5'), [{ path: 'a.bin', bytes: 1 }], () => {});
    const auth = { [TOKEN_HEADER]: session.token };
    expect((await put(port, { path: 'a.bin', offset: '0' }, Buffer.from('x'), { ...auth, host: 'evil.example:80' })).status).toBe(403);
    expect(existsSync(join(tmp, 'out5', 'a.bin'))).toBe(false);
    await session.close();
  });
});
