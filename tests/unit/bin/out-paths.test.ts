/**
 * Where `ctlab compress --out DIR` may write: the file names come from the page, so every one is
 * checked to stay inside DIR, and never to reach outside it through a link.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { confined, linkEscape } from '../../../bin/lib/out-paths.mjs';

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'ctlab-out-')));
const out = join(tmp, 'out');
const outside = join(tmp, 'outside');
mkdirSync(out);
mkdirSync(outside);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('export paths', () => {
  it('names files inside the folder, subfolders included', () => {
    expect(confined(out, 'model.safetensors')).toBe(join(out, 'model.safetensors'));
    expect(confined(out, 'gptq/config.json')).toBe(join(out, 'gptq', 'config.json'));
    expect(linkEscape(out, confined(out, 'onnx/model.onnx'), 'onnx/model.onnx')).toBeNull();
  });

  it('refuses paths that leave the folder or name it', () => {
    for (const path of ['../escape.bin', '../outside/x.bin', join(outside, 'abs.bin'), 'ok.bin/../../escape.bin', '.', 'a\0b'])
      expect(() => confined(out, path), path).toThrow(/not a file inside/);
  });

  it('does not follow a link inside the folder to somewhere outside it', () => {
    const dir = join(tmp, 'linked');
    mkdirSync(dir);
    symlinkSync(outside, join(dir, 'onnx'));
    writeFileSync(join(outside, 'target.bin'), 'keep');
    symlinkSync(join(outside, 'target.bin'), join(dir, 'model.bin'));
    expect(linkEscape(dir, confined(dir, 'onnx/model.onnx'), 'onnx/model.onnx')).toMatch(/leads outside .* through a link/);
    expect(linkEscape(dir, confined(dir, 'model.bin'), 'model.bin')).toMatch(/is a symbolic link/);
  });
});
