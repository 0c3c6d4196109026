import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubLfsHashes } from '../../../src/lib/model/hub-hashes';
import { hubSource, urlSource } from '../../../src/lib/model/sources';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);

describe("the hub's LFS hashes from its tree listing", () => {
  let server: Server;
  let origin = '';
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/api/models/org/paged/tree/main?recursive=true&cursor=2')) {
        res.end(JSON.stringify([{ type: 'file', path: 'model-00002.safetensors', lfs: { oid: B } }]));
      } else if (req.url?.startsWith('/api/models/org/paged/tree/main')) {
        res.setHeader('link', '</api/models/org/paged/tree/main?recursive=true&cursor=2>; rel="next"');
        res.end(
          JSON.stringify([
            { type: 'file', path: 'config.json', size: 10 },
            { type: 'file', path: 'model-00001.safetensors', lfs: { oid: A } },
            { type: 'file', path: 'odd.bin', lfs: { oid: 'not-a-hash' } },
            { type: 'directory', path: 'onnx' },
          ]),
        );
      } else if (req.url?.startsWith('/api/models/org/html/')) {
        res.setHeader('content-type', 'text/html');
        res.end('<html>mirror</html>');
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads every page and keeps only well-formed SHA-256 values, in lower case', async () => {
    const hashes = await hubLfsHashes(hubSource('org/paged', 'main', origin));
    expect([...hashes]).toEqual([
      ['model-00001.safetensors', A],
      ['model-00002.safetensors', B.toLowerCase()],
    ]);
    expect(seen.filter((u) => u.includes('/paged/'))).toHaveLength(2);
  });

  it('gives no hashes (size and validators only) when the host has no listing or answers something else', async () => {
    expect((await hubLfsHashes(urlSource(`${origin}/models/x`))).size).toBe(0);
    for (const repo of ['org/missing', 'org/html']) {
      const src = hubSource(repo, 'main', origin);
      expect((await hubLfsHashes(src)).size, repo).toBe(0);
    }
    const unreachable = hubSource('org/x', 'main', 'http://127.0.0.1:1');
    expect((await hubLfsHashes(unreachable)).size).toBe(0);
  });
});
