// @ts-check
// The built page the CLI serves, rebuilt when a source is newer than it.
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

/** @param {string} root the repository @returns {Promise<string>} the built app's folder */
export async function ensureBuilt(root) {
  const dist = join(root, 'dist');
  const built = existsSync(join(dist, 'index.html')) ? statSync(join(dist, 'index.html')).mtimeMs : 0;
  const sources = ['src', 'workers', 'shaders', 'public', 'index.html', 'vite.config.ts', 'package-lock.json'];
  // A checkout that moved on since the last build must not run the old page.
  if (built && sources.every((s) => newestMtime(join(root, s)) <= built)) return dist;
  process.stderr.write(
    built ? 'ctlab: sources changed since the last build; rebuilding the app…\n' : 'ctlab: building the app (first run)…\n',
  );
  const { build } = await import('vite');
  await build({ root, logLevel: 'warn' });
  return dist;
}
