// @ts-check
// Files for the page: page.evaluate carries JSON, so text goes as is and binary as base64.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { usage } from './args.mjs';

/** @typedef {import('../../src/state/automation').WireFile} WireFile */

/**
 * @param {string} file
 * @param {string} path the name the page sees
 * @returns {WireFile}
 */
export function wireFile(file, path) {
  if (!existsSync(file)) usage(`no such file: ${file}`);
  const bytes = readFileSync(file);
  return /\.(npy|npz|bin)$/.test(file) ? { path, base64: bytes.toString('base64') } : { path, text: bytes.toString('utf8') };
}

/**
 * Every file under `dir`, each with its path relative to `dir`; only the perspective's
 * DecodingTrust folder `data/<folder>` when `dir` holds DecodingTrust's layout.
 * @param {string} dir
 * @param {string | undefined} folder the perspective's folder in DecodingTrust's `data/`
 */
export function dataFilesFor(dir, folder) {
  const nested = folder ? [join(dir, 'decodingtrust', folder), join(dir, folder)].find((d) => existsSync(d)) : undefined;
  return walkFiles(nested ?? dir).map((full) => wireFile(full, relative(dir, full)));
}

/**
 * Files of a path the user gave: itself, or every file below a folder, each named by the path as
 * the user would write it (the cell of a DecodingTrust output is often in its folders).
 * @param {string} given
 */
export function inputFiles(given) {
  if (!existsSync(given)) usage(`no such file or folder: ${given}`);
  if (!statSync(given).isDirectory()) return [wireFile(given, given)];
  const files = walkFiles(given).filter((f) => !basename(f).startsWith('.') && !/\.(md|txt)$/i.test(f));
  if (files.length === 0) usage(`${given} holds no files`);
  return files.map((f) => wireFile(f, join(given, relative(given, f))));
}

/** @param {string} dir @returns {string[]} files below `dir`, sorted */
function walkFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walkFiles(full));
    else out.push(full);
  }
  return out;
}
