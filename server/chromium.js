// @ts-check
// Plain JavaScript so the test configs and the `ctlab` CLI share one definition.

/** The system Chromium (Debian's package); no test tool downloads a browser of its own. */
export const CHROMIUM_PATH = process.env.CTLAB_CHROMIUM ?? '/usr/bin/chromium';

/**
 * WebGPU on (SwiftShader where there is no GPU) and every background connection off: these
 * machines have no network, and Chromium's own lookups would otherwise fail noisily.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
