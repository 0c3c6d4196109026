import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import sirv from 'sirv';
import type { Middleware } from './models-middleware.js';

/**
 * Test-only HTTP behaviour, so download code is exercised against a real server:
 *
 *   GET /__test/requests[?reset=1]     → JSON log of model-file requests {url, range, ifRange} (reset clears it)
 *   PUT /__test/fixtures/NAME/FILE[?mtime=S] → stores a fixture file, served at /fixtures/NAME/FILE
 *                                        (with its modification time set to S seconds since 1970)
 *   DELETE /__test/fixtures            → removes every fixture
 *   /hub/ORG/NAME/resolve/REV/FILE     → the hub's URL shape, answered from /models/NAME/FILE
 *                                        (from /fixtures/NAME/FILE when ORG is `fixtures`)
 *   /hub/api/models/ORG/NAME/tree/REV  → the hub's file listing of that folder, with the SHA-256
 *                                        of each weight or graph file as its LFS oid
 *   /fixhub/ORG/NAME/resolve/REV/FILE  → the hub's URL shape over the fixture NAME, with the hub's
 *                                        `X-Repo-Commit`: a sha1 of the fixture's file names, sizes
 *                                        and mtimes, so changing a fixture moves its "main"
 *   /faults/F1,F2,…/…                  → one or more of these faults at once:
 *     status-NNN                         answers with that status
 *     cut-N                              a request without Range gets N bytes, then the socket dies
 *     short-N                            a Range request is answered with at most N bytes (a
 *                                        shorter 206 than asked, which HTTP allows)
 *     linked-etag-HEX                    adds `X-Linked-Etag: "HEX"`, as the hub does for LFS files
 *     lfs-wrong                          the hub listing states a wrong SHA-256 for every LFS file
 */
export function testFaultsMiddleware(models: Middleware, modelsDir: string | null = null): Middleware {
  const log: { url: string; range: string | null; ifRange: string | null; method: string }[] = [];
  // Made on the first fixture a test stores, and removed when the server's process ends: a dev or
  // preview start, which loads the same config, leaves nothing behind.
  const fixturesDir = join(tmpdir(), `ctlab-fixtures-${process.pid}`);
  let fixtures: Middleware | null = null;
  const ensureFixtures = (): Middleware => {
    if (!fixtures) {
      mkdirSync(fixturesDir, { recursive: true });
      process.once('exit', () => rmSync(fixturesDir, { recursive: true, force: true }));
      fixtures = sirv(fixturesDir, { dev: true, etag: true });
    }
    return fixtures;
  };

  return (req: IncomingMessage, res: ServerResponse, next) => {
    const url = req.url ?? '';
    if (url.startsWith('/__test/requests')) {
      if (url.includes('reset=1')) log.length = 0;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(log));
      return;
    }
    if (url.startsWith('/__test/fixtures')) {
      if (req.method === 'DELETE') {
        rmSync(fixturesDir, { recursive: true, force: true });
        if (fixtures) mkdirSync(fixturesDir, { recursive: true });
        res.end('ok');
        return;
      }
      const [pathPart, query = ''] = url.slice('/__test/fixtures/'.length).split('?');
      const rel = normalize(decodeURIComponent(pathPart));
      const mtime = Number(new URLSearchParams(query).get('mtime') ?? NaN);
      if (req.method !== 'PUT' || rel.startsWith('..')) {
        res.statusCode = 400;
        res.end('bad fixture request');
        return;
      }
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        ensureFixtures();
        const path = join(fixturesDir, rel);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, Buffer.concat(parts));
        // Lets a test make "the same file, changed later" whatever the clock's resolution.
        if (Number.isFinite(mtime)) utimesSync(path, mtime, mtime);
        res.end('ok');
      });
      return;
    }

    const fault = /^\/faults\/([a-z0-9,-]+)(\/.*)$/.exec(url);
    let target = fault ? fault[2] : url;
    const tree = /^\/hub\/api\/models\/([^/]+)\/([^/?]+)\/tree\/[^/?]+/.exec(target);
    if (tree) {
      log.push({ url, range: null, ifRange: null, method: req.method ?? 'GET' });
      const base = tree[1] === 'fixtures' ? fixturesDir : modelsDir;
      const folder = base && /^[\w.-]+$/.test(tree[2]) && !tree[2].startsWith('.') ? join(base, tree[2]) : null;
      const wrong = fault?.[1].split(',').includes('lfs-wrong') ?? false;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(folder ? hubTree(folder, wrong) : []));
      return;
    }
    const hub = /^\/hub\/([^/]+)\/([^/]+)\/resolve\/[^/]+\/(.*)$/.exec(target);
    if (hub) target = `/${hub[1] === 'fixtures' ? 'fixtures' : 'models'}/${hub[2]}/${hub[3]}`;
    const fixHub = /^\/fixhub\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.*)$/.exec(target);
    if (fixHub && !decodeURIComponent(fixHub[1]).includes('..')) {
      target = `/fixtures/${fixHub[1]}/${fixHub[2]}`;
      res.setHeader('x-repo-commit', fixtureCommit(join(fixturesDir, normalize(decodeURIComponent(fixHub[1])))));
    }
    const isModelFile = target.startsWith('/models/') && !target.startsWith('/models/index.json');
    const isFixture = target.startsWith('/fixtures/');
    if (!isModelFile && !isFixture) return next();
    log.push({
      url,
      range: (req.headers.range as string | undefined) ?? null,
      ifRange: (req.headers['if-range'] as string | undefined) ?? null,
      method: req.method ?? 'GET',
    });

    for (const f of fault ? fault[1].split(',') : []) {
      const status = /^status-(\d{3})$/.exec(f);
      if (status) {
        res.statusCode = Number(status[1]);
        res.end(`injected ${status[1]}`);
        return;
      }
      const cut = /^cut-(\d+)$/.exec(f);
      if (cut && !req.headers.range) cutAfter(res, Number(cut[1]));
      const short = /^short-(\d+)$/.exec(f);
      const asked = /^bytes=(\d+)-(\d*)$/.exec((req.headers.range as string | undefined) ?? '');
      if (short && asked) {
        // The server below then answers with a correct Content-Range for the shorter span.
        const start = Number(asked[1]);
        const end = start + Number(short[1]) - 1;
        req.headers.range = `bytes=${start}-${asked[2] === '' ? end : Math.min(end, Number(asked[2]))}`;
      }
      const linked = /^linked-etag-([0-9a-f]+)$/.exec(f);
      if (linked) res.setHeader('x-linked-etag', `"${linked[1]}"`);
    }
    req.url = isFixture ? target.slice('/fixtures'.length) : target;
    (isFixture ? ensureFixtures() : models)(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  };
}

/** Files the hub keeps in LFS (and so lists with a SHA-256): weights and graphs. */
const LFS_FILE = /\.(safetensors|onnx|onnx_data|bin)$/;

/** The hub's recursive tree listing of a local folder. */
function hubTree(folder: string, wrongHashes: boolean, prefix = ''): object[] {
  let names: string[];
  try {
    names = readdirSync(join(folder, prefix)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = prefix ? `${prefix}/${name}` : name;
    const stat = statSync(join(folder, path));
    if (stat.isDirectory()) return [{ type: 'directory', path }, ...hubTree(folder, wrongHashes, path)];
    if (!LFS_FILE.test(name)) return [{ type: 'file', path, size: stat.size }];
    const oid = wrongHashes
      ? '0'.repeat(64)
      : createHash('sha256')
          .update(readFileSync(join(folder, path)))
          .digest('hex');
    return [{ type: 'file', path, size: stat.size, lfs: { oid, size: stat.size, pointerSize: 134 } }];
  });
}

/** A stand-in for the hub's commit sha: it changes whenever a file of the fixture folder does. */
function fixtureCommit(dir: string): string {
  const hash = createHash('sha1');
  const walk = (d: string, prefix: string): void => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path, `${prefix}${name}/`);
      else hash.update(`${prefix}${name}\t${st.size}\t${st.mtimeMs}\n`);
    }
  };
  walk(dir, '');
  return hash.digest('hex');
}

/** Lets `limit` body bytes through, then destroys the socket as a dropped connection would. */
function cutAfter(res: ServerResponse, limit: number): void {
  let sent = 0;
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  const end = res.end.bind(res) as () => ServerResponse;
  const passOn = (chunk: unknown): boolean => {
    if (chunk == null || sent >= limit) return true;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    const room = limit - sent;
    if (buf.length > room) {
      sent = limit;
      write(buf.subarray(0, room));
      // Give the partial body time to reach the page before the connection dies: a fetch body
      // that errors drops what its reader has not taken yet, and a busy test machine reads late.
      setTimeout(() => res.socket?.destroy(), 300);
      return true;
    }
    sent += buf.length;
    return write(buf);
  };
  res.write = ((chunk: unknown) => passOn(chunk)) as typeof res.write;
  res.end = ((chunk?: unknown) => {
    if (chunk && typeof chunk !== 'function') passOn(chunk);
    return sent < limit ? end() : res;
  }) as typeof res.end;
}
