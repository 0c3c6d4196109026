import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from './models-middleware.ts';

/**
 * Test-only HTTP behaviour in front of `/models/`: a request log the browser tests can read,
 * and injected faults, so download code is exercised against a real server.
 *
 *   GET /__test/requests            → JSON list of logged requests {url, range}
 *   GET /__test/requests?reset=1    → clears the log
 *   /faults/status-404/models/…     → answers 404
 *   /faults/status-500/models/…     → answers 500
 *   /faults/cut-N/models/…          → a request without Range gets N bytes, then the socket is destroyed
 */
export function testFaultsMiddleware(models: Middleware): Middleware {
  const log: { url: string; range: string | null }[] = [];
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const url = req.url ?? '';
    if (url.startsWith('/__test/requests')) {
      if (url.includes('reset=1')) log.length = 0;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(log));
      return;
    }
    const fault = /^\/faults\/([a-z0-9-]+)(\/models\/.*)$/.exec(url);
    const target = fault ? fault[2] : url;
    if (!target.startsWith('/models/') || target.startsWith('/models/index.json')) return next();
    log.push({ url, range: (req.headers.range as string | undefined) ?? null });
    if (fault) {
      const kind = fault[1];
      const status = /^status-(\d{3})$/.exec(kind);
      if (status) {
        res.statusCode = Number(status[1]);
        res.end(`injected ${status[1]}`);
        return;
      }
      const cut = /^cut-(\d+)$/.exec(kind);
      if (cut && !req.headers.range) {
        const limit = Number(cut[1]);
        let sent = 0;
        const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
        const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
        const passOn = (chunk: unknown): boolean => {
          if (chunk == null || sent >= limit) return true;
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
          const room = limit - sent;
          sent += Math.min(room, buf.length);
          if (buf.length > room) {
            write(buf.subarray(0, room));
            // Let the partial body reach the client before the connection dies.
            setTimeout(() => res.socket?.destroy(), 50);
            return true;
          }
          return write(buf);
        };
        res.write = ((chunk: unknown) => passOn(chunk)) as typeof res.write;
        res.end = ((chunk?: unknown) => {
          if (chunk && typeof chunk !== 'function') passOn(chunk);
          if (sent < limit) return end();
          return res;
        }) as typeof res.end;
      }
      req.url = target;
    }
    models(req, res, next);
  };
}
