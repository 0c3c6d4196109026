import { serveApp } from '/work/wt16-export/bin/lib/server.mjs';
import { request } from 'node:http';
const root = '/work/wt16-export';
const server = await serveApp({ root, dist: root + '/dist', modelDirs: [], port: 48206 });
const session = server.uploads.open('/tmp/export-work/bench/out2', [{ path: 'a.bin', bytes: 64 * 1024 * 1024 }], () => {});
const port = 48206;
for (let i = 0; i < 2; i++) {
  const body = Buffer.alloc(32 * 1024 * 1024, i);
  const t = performance.now();
  await new Promise((ok, bad) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: `${session.url}?path=a.bin&offset=${i * body.length}`, headers: { host: `127.0.0.1:${port}`, 'x-ctlab-token': session.token, 'content-length': body.length } }, (res) => { res.resume(); res.on('end', () => ok(res.statusCode)); });
    req.on('error', bad);
    req.end(body);
  });
  console.log('put', i, ((performance.now() - t) / 1000).toFixed(2), 's');
}
await session.finish();
await server.close();
