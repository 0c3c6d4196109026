// @ts-check
// The built page the CLI serves, and the Node build of the engine (`--runtime node`), each
// rebuilt when a source is newer than it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** @param {string} path @returns {number} */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/**
 * Whether `marker` (a file every build writes) is newer than every source.
 * @param {string} root @param {string} marker @param {string[]} sources
 * @returns {'fresh' | 'stale' | 'missing'}
 */
function buildState(root, marker, sources) {
  const built = existsSync(join(root, marker)) ? statSync(join(root, marker)).mtimeMs : 0;
  if (!built) return 'missing';
  // A checkout that moved on since the last build must not run the old code.
  return sources.every((s) => newestMtime(join(root, s)) <= built) ? 'fresh' : 'stale';
}

/** @param {string} root the repository @returns {Promise<string>} the built app's folder */
export async function ensureBuilt(root) {
  const dist = join(root, 'dist');
  const state = buildState(root, 'dist/index.html', [
    'src',
    'workers',
    'shaders',
    'public',
    'index.html',
    'vite.config.ts',
    'package-lock.json',
  ]);
  if (state === 'fresh') return dist;
  process.stderr.write(
    state === 'stale' ? 'ctlab: sources changed since the last build; rebuilding the app…\n' : 'ctlab: building the app (first run)…\n',
  );
  const { build } = await import('vite');
  await build({ root, logLevel: 'warn' });
  return dist;
}

/** @param {string} root the repository @returns {Promise<string>} the Node engine module (`npm run build:node`) */
export async function ensureNodeBuilt(root) {
  const engine = join(root, 'dist-node', 'engine.mjs');
  const state = buildState(root, 'dist-node/engine.mjs', ['src/lib', 'src/node', 'shaders', 'vite.node.config.ts', 'package-lock.json']);
  if (state === 'fresh') return engine;
  process.stderr.write(
    state === 'stale'
      ? 'ctlab: sources changed since the last build; rebuilding the Node engine…\n'
      : 'ctlab: building the Node engine (first run)…\n',
  );
  const { build } = await import('vite');
  await build({ root, configFile: join(root, 'vite.node.config.ts'), logLevel: 'warn' });
  return engine;
}
