// @ts-check
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { basename, join, resolve } from 'node:path';
import sirv from 'sirv';
import { modelsMiddleware, resolveModelsDir } from '../../server/models-middleware.js';
import { hostGuard, serveFolder } from '../../server/safe-files.js';
import { pagePolicy } from '../../server/csp.js';
import { setIsolationHeaders } from '../../server/isolation.js';

/**
 * Serves the built app, the configured local models directory at `/models/`, and each local
 * model directory named on the command line at `/cli-models/{hash}/{name}/`, on 127.0.0.1 only.
 * The port is fixed because IndexedDB belongs to an origin: another port would be another cache.
 * @param {{ root: string, dist: string, modelDirs: string[], dataDirs?: string[], port: number }} opts
 * @returns {Promise<{ origin: string, modelUrls: string[], dataUrls: string[], close: () => Promise<void> }>}
 */
export async function serveApp({ root, dist, modelDirs, dataDirs = [], port }) {
  const app = sirv(dist, { single: true, etag: true });
  // The built page's policy as a header on every answer, so its workers are held to it as well.
  const policy = pagePolicy(join(dist, 'index.html'));
  const models = modelsMiddleware(resolveModelsDir(root));
  // A hash of the absolute path keeps each folder's URL, and so its cache key, stable across runs.
  const ids = modelDirs.map((dir) => createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 10));
  const cliModels = new Map(modelDirs.map((dir, i) => [ids[i], serveFolder(dir)]));
  const dataIds = dataDirs.map((dir) => createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 10));
  const cliData = new Map(dataDirs.map((dir, i) => [dataIds[i], serveFolder(dir)]));
  /** @type {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void} */
  const route = (req, res) => {
    const url = req.url ?? '/';
    const cli = /^\/cli-models\/([0-9a-f]+)\/[^/]+(\/.*)$/.exec(url);
    const notFound = () => {
      res.statusCode = 404;
      res.end('not found');
    };
    const data = /^\/cli-data\/([0-9a-f]+)(\/.*)$/.exec(url);
    const serveData = data ? cliData.get(data[1]) : undefined;
    if (data && serveData) {
      req.url = data[2];
      return serveData(req, res, notFound);
    }
    const serveModel = cli ? cliModels.get(cli[1]) : undefined;
    if (cli && serveModel) {
      req.url = cli[2];
      return serveModel(req, res, notFound);
    }
    models(req, res, () => app(req, res, notFound));
  };
  /** @type {string[]} */
  const hosts = [];
  // A bad request must answer an error, never end the process (and a running eval with it).
  const server = createServer(
    hostGuard(hosts, (req, res) => {
      if (policy) res.setHeader('content-security-policy', policy);
      setIsolationHeaders(res);
      try {
        route(req, res);
      } catch (err) {
        if (!res.headersSent) res.statusCode = 500;
        res.end(`server error: ${/** @type {Error} */ (err).message}`);
      }
    }),
  );
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise((ok, reject) => {
    server.once('error', (err) =>
      reject(
        /** @type {NodeJS.ErrnoException} */ (err).code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use (another ctlab running?); pass --port N (each port has its own browser cache)`)
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', () => ok(undefined));
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('could not start the local server');
  const origin = `http://127.0.0.1:${address.port}`;
  hosts.push(`127.0.0.1:${address.port}`, `localhost:${address.port}`);
  return {
    origin,
    dataUrls: dataIds.map((id) => `${origin}/cli-data/${id}/`),
    modelUrls: modelDirs.map((dir, i) => `${origin}/cli-models/${ids[i]}/${encodeURIComponent(basename(resolve(dir)))}`),
    close: () => new Promise((ok) => server.close(() => ok(undefined))),
  };
}
