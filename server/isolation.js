// @ts-check
// Plain JavaScript so both vite.config.ts and the `ctlab` CLI (plain Node) can import it.

/**
 * The response headers that make the page cross-origin isolated, so it (and its workers) get
 * SharedArrayBuffer and onnxruntime-web's WASM can run on several threads. `require-corp` rather
 * than `credentialless`: Safari knows only the former, and every cross-origin load of the page is
 * a CORS fetch (the hub and its CDN answer with Access-Control-Allow-Origin), which require-corp
 * admits. Sent on every response: a worker's own script must carry the embedder policy too, or an
 * isolated page may not start it.
 */
export const ISOLATION_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});

/**
 * Sets the isolation headers on a response before it is written.
 * @param {{ setHeader: (name: string, value: string) => unknown }} res
 */
export function setIsolationHeaders(res) {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
}
