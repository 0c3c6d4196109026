// @ts-check
// `--runtime node`: the compression engine imported into this process (dist-node/engine.mjs)
// with Dawn's WebGPU, instead of the page in headless Chromium.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureNodeBuilt } from './build.mjs';

/** @typedef {typeof import('../../src/node/engine')} NodeEngine */

/** Where Chromium keeps SwiftShader's Vulkan driver: Dawn can use the same one. */
const SWIFTSHADER_DIRS = ['/usr/lib/chromium', '/usr/lib64/chromium', '/opt/google/chrome'];

/**
 * Why Dawn found no adapter, and how to give it one on a machine without a GPU driver.
 * @param {string | undefined} reason
 */
export function noAdapterNote(reason) {
  const dir = SWIFTSHADER_DIRS.find((d) => existsSync(join(d, 'vk_swiftshader_icd.json')));
  const env = dir
    ? `VK_ICD_FILENAMES=${dir}/vk_swiftshader_icd.json LD_LIBRARY_PATH=${dir}`
    : 'VK_ICD_FILENAMES=<dir>/vk_swiftshader_icd.json LD_LIBRARY_PATH=<dir> (the folder of a Chromium build that ships SwiftShader)';
  return (
    `Dawn gave no WebGPU adapter, so only the TypeScript kernels run. Dawn needs a Vulkan driver; without a GPU ` +
    `driver, run SwiftShader's with ${env}${reason ? ` (WebGPU: ${reason})` : ''}`
  );
}

/**
 * The Node engine, built when stale, with Dawn installed as this process's WebGPU.
 * @param {string} root the repository
 * @returns {Promise<{ engine: NodeEngine, adapter: string | null, note?: string }>}
 */
export async function loadNodeEngine(root) {
  const path = await ensureNodeBuilt(root);
  /** @type {NodeEngine} */
  const engine = await import(pathToFileURL(path).href);
  await engine.installDawn();
  // The CPU kernels' helper threads (every core but this one, at most three).
  await engine.startNodeSimdHelpers();
  const report = await engine.describeAdapter();
  if (!report.available) return { engine, adapter: null, note: noAdapterNote(report.reason) };
  const adapter = [report.vendor, report.architecture, report.description].filter(Boolean).join(' · ') || 'unnamed adapter';
  return { engine, adapter };
}
