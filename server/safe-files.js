// @ts-check
// Plain JavaScript so both vite.config.ts and the `ctlab` CLI (plain Node) can import it.
import { realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import sirv from 'sirv';

/**
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void} Middleware
 */

/**
 * The real path of `path` when it lies inside `realRoot` (symlinks resolved), else null: a link
 * pointing out of a served folder must not expose what it points at.
 * @param {string} realRoot
 * @param {string} path
 * @returns {string | null}
 */
export function insideRoot(realRoot, path) {
  let real;
  try {
    real = realpathSync(path);
  } catch {
    return null;
  }
  return real === realRoot || real.startsWith(realRoot + sep) ? real : null;
}

/**
 * One `Range: bytes=…` header against a file of `size` bytes, as RFC 9110 §14.1.2 defines it:
 * `null` when absent, 'unsatisfiable' when malformed or outside the file, else the inclusive span.
 * Several ranges at once are not needed by any client here and are refused too.
 * @param {string | undefined} header
 * @param {number} size
 * @returns {null | 'unsatisfiable' | { start: number, end: number }}
 */
export function parseRange(header, size) {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || (m[2] !== '' && Number(m[2]) < start)) return 'unsatisfiable';
  return { start, end };
}

/**
 * RFC 9110 §13.1.5: a Range counts only while `If-Range` (when sent) still describes the file.
 * sirv's ETags are weak, and a weak ETag never passes the strong comparison If-Range needs, so
 * only the Last-Modified date can keep a resume going here.
 * @param {string | string[] | undefined} ifRange
 * @param {Date} mtime
 * @returns {boolean}
 */
export function ifRangeHolds(ifRange, mtime) {
  if (ifRange === undefined) return true;
  if (Array.isArray(ifRange)) return false;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return false;
  return value === mtime.toUTCString();
}

/**
 * Serves the files of `dir` with ranges and ETags (sirv), and nothing else: no dotfile or
 * dot-folder (`.env`, `.git/`), nothing a symlink reaches outside `dir`, and a malformed or
 * unsatisfiable Range answered 416 instead of reaching the file stream.
 * @param {string} dir
 * @returns {Middleware}
 */
export function serveFolder(dir) {
  const root = resolve(dir);
  const files = sirv(root, { dev: true, etag: true, dotfiles: false });
  return (req, res, next) => {
    const rawPath = (req.url ?? '/').split('?')[0];
    let path;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return next();
    }
    const segments = path.split(/[\\/]/).filter((s) => s !== '');
    if (segments.some((s) => s.startsWith('.'))) return next();
    let realRoot;
    try {
      realRoot = realpathSync(root);
    } catch {
      return next();
    }
    const real = insideRoot(realRoot, join(root, ...segments));
    if (!real) return next();
    let size;
    let mtime;
    try {
      const st = statSync(real);
      if (!st.isFile()) return next();
      size = st.size;
      mtime = st.mtime;
    } catch {
      return next();
    }
    // A resume of another version of the file gets the whole current file, not a splice (sirv ignores If-Range).
    if (req.headers.range !== undefined && !ifRangeHolds(req.headers['if-range'], mtime)) delete req.headers.range;
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.statusCode = 416;
      res.setHeader('content-range', `bytes */${size}`);
      res.end();
      return;
    }
    // sirv reads the header again: hand it the normalised span (a suffix range included).
    if (range) req.headers.range = `bytes=${range.start}-${range.end}`;
    files(req, res, next);
  };
}

/**
 * Refuses requests whose `Host` is not one of `hosts`: a page on another site that rebinds its
 * DNS name to 127.0.0.1 would otherwise read every served file while the server runs.
 * @param {readonly string[]} hosts e.g. ['127.0.0.1:47613', 'localhost:47613']; read on each
 *   request, so a server listening on port 0 can fill it in once the port is known
 * @param {(req: IncomingMessage, res: ServerResponse) => void} handler
 * @returns {(req: IncomingMessage, res: ServerResponse) => void}
 */
export function hostGuard(hosts, handler) {
  return (req, res) => {
    if (!hosts.includes(String(req.headers.host ?? '').toLowerCase())) {
      res.statusCode = 403;
      res.setHeader('content-type', 'text/plain');
      res.end('forbidden: this server answers only its own loopback origin');
      return;
    }
    handler(req, res);
  };
}
