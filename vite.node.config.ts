import { readdirSync } from 'node:fs';
import { defineConfig } from 'vite';

const root = import.meta.dirname;

/**
 * The Node build of the engine: each `src/node/*.ts` is an entry, written to `dist-node/` as an
 * ES module that `bin/` imports. Packages stay external (Node resolves them from node_modules);
 * WGSL sources are inlined as they are in the page.
 */
const entries = Object.fromEntries(
  readdirSync(`${root}/src/node`)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => [f.replace(/\.ts$/, ''), `${root}/src/node/${f}`]),
);

export default defineConfig({
  cacheDir: process.env.CTLAB_VITE_CACHE ?? 'node_modules/.vite',
  // The page's static files (favicon, offline data) have no use beside the Node modules.
  publicDir: false,
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'dist-node',
    emptyOutDir: true,
    rollupOptions: { input: entries, output: { format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'chunks/[name]-[hash].mjs' } },
  },
});
