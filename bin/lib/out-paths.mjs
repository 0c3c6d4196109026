// @ts-check
// Where an export may write: only files strictly inside the folder given as --out, never through
// a link that leads out of it. The file names come from the page, so they are checked here.
import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

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

/** @param {string} path */
function lstatOrNull(path) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
