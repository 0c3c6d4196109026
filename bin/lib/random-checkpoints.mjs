// @ts-check
// Random-weight checkpoints of real shapes for the benchmarks, written once into a shapes folder
// by scripts/make-random-checkpoints.mjs and reused by every later run.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the benchmarks keep their checkpoints unless told otherwise. */
export const SHAPES_DIR = join(homedir(), '.cache', 'ctlab', 'shapes');

/**
 * The checkpoint folders of `models`, written by scripts/make-random-checkpoints.mjs where
 * missing. Each layer count has its own subfolder; a `.complete` file beside a model's folder
 * says the script finished it, so an interrupted write is redone.
 * @param {string} root the repository
 * @param {{ models: string[], layers?: number, shapesDir: string, quiet?: boolean }} opts
 * @param {(line: string) => void} log
 * @returns {{ id: string, dir: string }[]}
 */
export function ensureCheckpoints(root, opts, log) {
  const dir = join(opts.shapesDir, opts.layers ? `layers-${opts.layers}` : 'full');
  const folderOf = (/** @type {string} */ id) => join(dir, id.replace('/', '--'));
  const done = (/** @type {string} */ id) => `${folderOf(id)}.complete`;
  const missing = opts.models.filter((id) => !existsSync(done(id)));
  if (missing.length) {
    log(`writing random-weight checkpoints of ${missing.join(', ')} into ${dir}`);
    const args = ['scripts/make-random-checkpoints.mjs', '--out', dir, '--models', missing.join(',')];
    if (opts.layers) args.push('--layers', String(opts.layers));
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', opts.quiet ? 'ignore' : 2, 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`make-random-checkpoints failed: ${(r.stderr || `exit ${r.status}`).trim()}`);
    for (const id of missing) writeFileSync(done(id), `${new Date().toISOString()}\n`);
  }
  return opts.models.map((id) => ({ id, dir: folderOf(id) }));
}
