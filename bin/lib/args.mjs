// @ts-check
// Command-line values turned into what a command needs, or a usage error naming the option.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** A mistake on the command line: printed as `ctlab: <message>`, exit status 1. */
export class UsageError extends Error {}

/**
 * @param {string} message
 * @returns {never}
 */
export function usage(message) {
  throw new UsageError(message);
}

/**
 * The values `node:util` parseArgs gives for the options of bin/ctlab.mjs.
 * @typedef {{ [name: string]: string | boolean | string[] | undefined }} RawValues
 * @typedef {{ values: Values, positionals: string[] }} Argv
 * @typedef {Record<string, any>} Values
 */

/**
 * A non-negative integer option, or undefined when absent.
 * @param {Values} values
 * @param {string} name
 * @returns {number | undefined}
 */
export function optionalInt(values, name) {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, not ${v}`);
  return n;
}

/**
 * @param {Values} values
 * @param {string} name
 */
export function positiveInt(values, name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer`);
  return n;
}

/** @param {string | undefined} v a comma-separated list */
export function list(v) {
  return (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

/**
 * How the user named a model: a local folder (served by the CLI), a URL or a hub id.
 * @typedef {{ kind: 'dir', path: string } | { kind: 'url', url: string } | { kind: 'hub', id: string }} ModelArg
 */

/**
 * @param {string | undefined} m
 * @returns {ModelArg}
 */
export function modelArg(m) {
  if (!m) return usage('--model is required');
  if (existsSync(m) && statSync(m).isDirectory()) return { kind: 'dir', path: resolve(m) };
  if (/^https?:\/\//.test(m)) return { kind: 'url', url: m };
  if (/^[./~]/.test(m) || m.split('/').length > 2) usage(`no such model folder: ${m}`);
  return { kind: 'hub', id: m };
}

/** How a model is named in a plan id: a folder by its absolute path, not as served. @param {ModelArg | undefined} m */
export function modelName(m) {
  return !m ? undefined : m.kind === 'dir' ? m.path : m.kind === 'url' ? m.url : m.id;
}

/** @param {Values} values */
export function deviceArg(values) {
  const device = /** @type {string} */ (values.device);
  if (!['auto', 'webgpu', 'wasm'].includes(device)) usage(`--device must be webgpu, wasm or auto, not ${device}`);
  return /** @type {'auto' | 'webgpu' | 'wasm'} */ (device);
}

/**
 * `--batch-size N`: prompts per forward pass in evaluation (1 to 256), or undefined for the
 * page's rule (model and device).
 * @param {Values} values
 * @returns {number | undefined}
 */
export function batchSizeArg(values) {
  const v = values['batch-size'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) usage(`--batch-size must be an integer from 1 to 256, not ${v}`);
  return n;
}
