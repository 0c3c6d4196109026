// @ts-check
// The upload endpoint of the CLI's local server: `ctlab compress --out DIR` has the page's
// compress worker PUT each exported file here, in large slices, straight from its cache, and
// this writes them into DIR. Only what one export announced is accepted: its one-time token,
// its files (by their exact paths, all inside DIR), each in order and at its announced size.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

export const UPLOAD_PATH = '/__ctlab/upload';
export const TOKEN_HEADER = 'x-ctlab-token';

/**
 * @typedef {{ path: string, bytes: number }} ExpectedFile
 * @typedef {{ bytes: number, written: number, busy: boolean, handle: import('node:fs/promises').FileHandle | null }} Entry
 * @typedef {{ token: Buffer, dir: string, files: Map<string, Entry>, onBytes: (path: string, done: number, total: number) => void }} Session
 */

/**
 * Throws unless `path` names a file strictly inside `dir` (relative, no `..`, no absolute path).
 * @param {string} dir @param {string} path @returns {string} the file's absolute path
 */
export function confined(dir, path) {
  const target = resolve(dir, path);
  const rel = relative(dir, target);
  if (path.includes('\0') || isAbsolute(path) || !rel || rel.startsWith('..') || isAbsolute(rel))
    throw new Error(`refusing to write ${JSON.stringify(path)}: not a file inside ${dir}`);
  return target;
}

export function uploadRoute() {
  /** @type {Set<Session>} */
  const sessions = new Set();

  /** @param {unknown} given @returns {Session | undefined} */
  const sessionOf = (given) => {
    if (typeof given !== 'string') return undefined;
    const bytes = Buffer.from(given, 'utf8');
    for (const s of sessions) if (bytes.length === s.token.length && timingSafeEqual(bytes, s.token)) return s;
    return undefined;
  };

  return {
    /**
     * Opens an export into `dir` of exactly `files`; its URL path and token go to the page.
     * @param {string} dir
     * @param {ExpectedFile[]} files
     * @param {Session['onBytes']} onBytes
     */
    open(dir, files, onBytes) {
      const root = resolve(dir);
      mkdirSync(root, { recursive: true });
      /** @type {Map<string, Entry>} */
      const entries = new Map();
      for (const f of files) {
        confined(root, f.path);
        if (!Number.isSafeInteger(f.bytes) || f.bytes < 0) throw new Error(`refusing to export ${f.path}: size ${f.bytes}`);
        entries.set(f.path, { bytes: f.bytes, written: 0, busy: false, handle: null });
      }
      const token = randomBytes(32).toString('hex');
      /** @type {Session} */
      const session = { token: Buffer.from(token, 'utf8'), dir: realpathSync(root), files: entries, onBytes };
      sessions.add(session);
      const close = async () => {
        sessions.delete(session);
        for (const e of entries.values()) await e.handle?.close();
      };
      return {
        url: UPLOAD_PATH,
        token,
        /** Ends the export: the token stops working; throws naming a file that did not arrive whole. */
        async finish() {
          await close();
          for (const [path, e] of entries)
            if (e.written !== e.bytes) throw new Error(`export incomplete: ${path} has ${e.written} of ${e.bytes} bytes`);
        },
        close,
      };
    },

    /**
     * Answers a request to the endpoint; false for any other path (the caller routes it on).
     * @param {import('node:http').IncomingMessage} req
     * @param {import('node:http').ServerResponse} res
     */
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== UPLOAD_PATH) return false;
      /** @param {number} code @param {string} why */
      const refuse = (code, why) => {
        res.statusCode = code;
        res.setHeader('content-type', 'text/plain');
        res.setHeader('connection', 'close');
        res.end(why);
        req.resume();
      };
      if (req.method !== 'PUT') {
        refuse(405, 'uploads are PUT requests');
        return true;
      }
      const session = sessionOf(req.headers[TOKEN_HEADER]);
      if (!session) {
        refuse(403, 'wrong or missing upload token');
        return true;
      }
      receive(session, url.searchParams, req, res, refuse).catch((err) => {
        if (!res.headersSent) refuse(500, `upload failed: ${/** @type {Error} */ (err).message}`);
        else res.destroy();
      });
      return true;
    },
  };
}

/**
 * @param {Session} session
 * @param {URLSearchParams} params
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {(code: number, why: string) => void} refuse
 */
async function receive(session, params, req, res, refuse) {
  const path = params.get('path') ?? '';
  const entry = session.files.get(path);
  if (!entry) return refuse(403, `${JSON.stringify(path)} is not a file of this export`);
  const target = confined(session.dir, path);
  const offset = Number(params.get('offset'));
  if (!Number.isSafeInteger(offset) || offset !== entry.written || entry.busy)
    return refuse(409, `${path}: expected bytes from ${entry.written}, got ${params.get('offset')}`);
  const length = Number(req.headers['content-length']);
  if (req.headers['content-length'] === undefined || !Number.isSafeInteger(length) || length < 0)
    return refuse(411, 'an upload needs a content-length');
  if (offset + length > entry.bytes) return refuse(413, `${path}: ${offset + length} bytes is more than its ${entry.bytes}`);
  entry.busy = true;
  try {
    if (offset === 0) {
      await entry.handle?.close();
      mkdirSync(dirname(target), { recursive: true });
      // A link inside the folder (to a folder or a file) must not carry the write outside it.
      const parent = relative(session.dir, realpathSync(dirname(target)));
      if (parent.startsWith('..') || isAbsolute(parent)) return refuse(403, `${path} leads outside ${session.dir} through a link`);
      if (lstatOrNull(target)?.isSymbolicLink()) return refuse(403, `${path} is a symbolic link in ${session.dir}`);
      entry.handle = await open(target, 'w');
    }
    const handle = entry.handle;
    if (!handle) return refuse(409, `${path}: not open`);
    let at = offset;
    for await (const chunk of req) {
      const buf = /** @type {Buffer} */ (chunk);
      if (at + buf.length > offset + length) return refuse(413, `${path}: the body is longer than its content-length`);
      await handle.write(buf, 0, buf.length, at);
      at += buf.length;
    }
    if (at !== offset + length) return refuse(400, `${path}: the body ended after ${at - offset} of ${length} bytes`);
    entry.written = at;
    if (entry.written === entry.bytes) {
      await handle.close();
      entry.handle = null;
    }
    session.onBytes(path, entry.written, entry.bytes);
    res.statusCode = 204;
    res.end();
  } finally {
    entry.busy = false;
  }
}

/** @param {string} path */
function lstatOrNull(path) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
