// @ts-check
// The upload endpoint of the CLI's local server: `ctlab compress --out DIR` has the page's
// compress worker PUT each exported file here, in large slices (several in flight), straight
// from its cache, and this writes them into DIR. Only what one export announced is accepted:
// its one-time token, its files (by their exact paths, all inside DIR), each byte of a file once
// and within its announced size.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

export const UPLOAD_PATH = '/__ctlab/upload';
export const TOKEN_HEADER = 'x-ctlab-token';

/**
 * @typedef {{ path: string, bytes: number }} ExpectedFile
 * @typedef {{ bytes: number, written: number, claimed: [number, number][], opened: Promise<import('node:fs/promises').FileHandle> | null, complete: boolean }} Entry
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
        entries.set(f.path, { bytes: f.bytes, written: 0, claimed: [], opened: null, complete: false });
      }
      const token = randomBytes(32).toString('hex');
      /** @type {Session} */
      const session = { token: Buffer.from(token, 'utf8'), dir: realpathSync(root), files: entries, onBytes };
      sessions.add(session);
      const close = async () => {
        sessions.delete(session);
        for (const e of entries.values()) await (await e.opened?.catch(() => null))?.close();
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
  const length = Number(req.headers['content-length']);
  if (req.headers['content-length'] === undefined || !Number.isSafeInteger(length) || length < 0)
    return refuse(411, 'an upload needs a content-length');
  if (!Number.isSafeInteger(offset) || offset < 0) return refuse(400, `${path}: bad offset ${params.get('offset')}`);
  const end = offset + length;
  if (end > entry.bytes) return refuse(413, `${path}: ${end} bytes is more than its ${entry.bytes}`);
  // Slices may come in any order (several are in flight), but each byte only once.
  if (entry.complete || entry.claimed.some(([a, b]) => offset < b && a < end) || (length === 0 && entry.bytes > 0))
    return refuse(409, `${path}: bytes ${offset} to ${end} were sent already (or are empty)`);
  const claim = /** @type {[number, number]} */ ([offset, end]);
  entry.claimed.push(claim);
  let done = false;
  try {
    // The first slice to arrive creates the file; the others wait for it.
    entry.opened ??= openInside(session.dir, target, path);
    const handle = await entry.opened;
    let at = offset;
    /** @type {Buffer[]} */
    let batch = [];
    let batched = 0;
    // Written in runs of a few MB: one write per 64 kB socket chunk costs more than the copy.
    const flush = async () => {
      if (batched === 0) return;
      await handle.writev(batch, at);
      at += batched;
      batch = [];
      batched = 0;
    };
    for await (const chunk of req) {
      const buf = /** @type {Buffer} */ (chunk);
      if (at + batched + buf.length > end) return refuse(413, `${path}: the body is longer than its content-length`);
      batch.push(buf);
      batched += buf.length;
      if (batched >= WRITE_RUN) await flush();
    }
    await flush();
    if (at !== end) return refuse(400, `${path}: the body ended after ${at - offset} of ${length} bytes`);
    done = true;
    entry.written += length;
    if (entry.written === entry.bytes) {
      entry.complete = true;
      entry.opened = null;
      await handle.close();
    }
    session.onBytes(path, entry.written, entry.bytes);
    res.statusCode = 204;
    res.end();
  } catch (err) {
    if (/** @type {{ refusal?: number }} */ (err).refusal)
      return refuse(/** @type {any} */ (err).refusal, /** @type {Error} */ (err).message);
    throw err;
  } finally {
    // A slice that failed may be sent again.
    if (!done) entry.claimed.splice(entry.claimed.indexOf(claim), 1);
  }
}

/** Bytes gathered from a request before one write. */
const WRITE_RUN = 4 * 1024 * 1024;

/**
 * Creates (or truncates) `target` for writing, unless a link would carry the write outside `dir`.
 * @param {string} dir @param {string} target @param {string} path
 */
async function openInside(dir, target, path) {
  const why = linkEscape(dir, target, path);
  if (why) throw refusal(403, why);
  return open(target, 'w');
}

/**
 * Makes the folders of `target` (a path inside `dir`, see `confined`) and says why writing it
 * would leave `dir` through a link (to a folder or a file), or null when it would not.
 * @param {string} dir real path of the folder @param {string} target @param {string} path
 * @returns {string | null}
 */
export function linkEscape(dir, target, path) {
  mkdirSync(dirname(target), { recursive: true });
  const parent = relative(dir, realpathSync(dirname(target)));
  if (parent.startsWith('..') || isAbsolute(parent)) return `${path} leads outside ${dir} through a link`;
  if (lstatOrNull(target)?.isSymbolicLink()) return `${path} is a symbolic link in ${dir}`;
  return null;
}

/** @param {number} code @param {string} why */
function refusal(code, why) {
  return Object.assign(new Error(why), { refusal: code });
}

/** @param {string} path */
function lstatOrNull(path) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
