import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import sirv from 'sirv';
import type { Middleware } from './models-middleware.js';

/**
 * Test-only HTTP behaviour, so download code is exercised against a real server:
 *
 *   GET /__test/requests[?reset=1]     → JSON log of model-file requests {url, range} (reset clears it)
 *   PUT /__test/fixtures/NAME/FILE     → stores a fixture file, served at /fixtures/NAME/FILE
 *   DELETE /__test/fixtures            → removes every fixture
 *   /hub/ORG/NAME/resolve/REV/FILE     → the hub's URL shape, answered from /models/NAME/FILE
 *   /fixhub/ORG/NAME/resolve/REV/FILE  → the hub's URL shape over the fixture NAME, with the hub's
 *                                        `X-Repo-Commit`: a sha1 of the fixture's file names, sizes
 *                                        and mtimes, so changing a fixture moves its "main"
 *   /faults/status-NNN/…               → answers with that status
 *   /faults/cut-N/…                    → a request without Range gets N bytes, then the socket dies
 */
export function testFaultsMiddleware(models: Middleware): Middleware {
  const log: { url: string; range: string | null; method: string }[] = [];
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
      const rel = normalize(decodeURIComponent(url.slice('/__test/fixtures/'.length)));
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
        res.end('ok');
      });
      return;
    }

    const fault = /^\/faults\/([a-z0-9-]+)(\/.*)$/.exec(url);
    let target = fault ? fault[2] : url;
    const hub = /^\/hub\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.*)$/.exec(target);
    if (hub) target = `/models/${hub[1]}/${hub[2]}`;
    const fixHub = /^\/fixhub\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.*)$/.exec(target);
    if (fixHub && !decodeURIComponent(fixHub[1]).includes('..')) {
      target = `/fixtures/${fixHub[1]}/${fixHub[2]}`;
      res.setHeader('x-repo-commit', fixtureCommit(join(fixturesDir, normalize(decodeURIComponent(fixHub[1])))));
    }
    const isModelFile = target.startsWith('/models/') && !target.startsWith('/models/index.json');
    const isFixture = target.startsWith('/fixtures/');
    if (!isModelFile && !isFixture) return next();
    log.push({ url, range: (req.headers.range as string | undefined) ?? null, method: req.method ?? 'GET' });

    if (fault) {
      const status = /^status-(\d{3})$/.exec(fault[1]);
      if (status) {
        res.statusCode = Number(status[1]);
        res.end(`injected ${status[1]}`);
        return;
      }
      const cut = /^cut-(\d+)$/.exec(fault[1]);
      if (cut && !req.headers.range) cutAfter(res, Number(cut[1]));
    }
    req.url = isFixture ? target.slice('/fixtures'.length) : target;
    (isFixture ? ensureFixtures() : models)(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  };
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
      // Give the partial body time to reach the client before the connection dies.
      setTimeout(() => res.socket?.destroy(), 50);
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
