/// <reference types="vitest/config" />
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { playwright } from '@vitest/browser-playwright';
import { modelsMiddleware, resolveModelsDir } from './server/models-middleware.js';
import { testFaultsMiddleware } from './server/test-faults-middleware.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './server/chromium.js';
import { pagePolicy } from './server/csp.js';
import { ISOLATION_HEADERS, setIsolationHeaders } from './server/isolation.js';

const root = import.meta.dirname;
const modelsDir = resolveModelsDir(root);

/** Serves the local models folder to the dev server, `vite preview` and the test server. */
function localModels(withTestFaults = false): Plugin {
  const models = modelsMiddleware(modelsDir);
  const handler = withTestFaults ? testFaultsMiddleware(models, modelsDir) : models;
  return {
    name: 'ctlab-local-models',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

/**
 * The page's Content-Security-Policy (index.html's meta tag) as a response header too: a worker
 * is held only to the policy its own script was served with, which a meta tag cannot give it.
 * Preview only: the dev server's module graph and HMR are not what ships.
 */
function contentSecurityPolicy(): Plugin {
  const policy = pagePolicy(`${root}/index.html`);
  if (!policy) throw new Error('index.html has no Content-Security-Policy meta tag');
  return {
    name: 'ctlab-csp-header',
    configurePreviewServer: (server) =>
      void server.middlewares.use((_req, res, next) => {
        res.setHeader('Content-Security-Policy', policy);
        next();
      }),
  };
}

/**
 * COOP/COEP on every answer of the dev server, `vite preview` and the browser-test server, so
 * the page is cross-origin isolated and onnxruntime-web's WASM gets its threads.
 */
function crossOriginIsolation(): Plugin {
  const isolate = (_req: IncomingMessage, res: ServerResponse, next: () => void) => {
    setIsolationHeaders(res);
    next();
  };
  return {
    name: 'ctlab-cross-origin-isolation',
    configureServer: (server) => void server.middlewares.use(isolate),
    configurePreviewServer: (server) => void server.middlewares.use(isolate),
  };
}

export default defineConfig({
  // Isolation first, so its headers reach the answers of the middlewares after it (the models folder).
  plugins: [crossOriginIsolation(), svelte(), localModels(), contentSecurityPolicy()],
  // Parallel checkouts that share one node_modules each keep their own pre-bundled deps.
  cacheDir: process.env.CTLAB_VITE_CACHE ?? 'node_modules/.vite',
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        plugins: [localModels(true)],
        // Vitest serves its own pages before any plugin middleware runs; these headers reach them.
        server: { headers: { ...ISOLATION_HEADERS } },
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          testTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
