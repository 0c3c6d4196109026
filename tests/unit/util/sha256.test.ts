import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../../../src/lib/util/sha256';

const reference = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('incremental sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(new Sha256().hex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(new TextEncoder().encode('abc')).hex()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('matches node:crypto for every length around the block and padding edges, fed whole', () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++)
      expect(new Sha256().update(data.subarray(0, n)).hex(), `length ${n}`).toBe(reference(data.subarray(0, n)));
  });

  it('gives the same digest however the input is split', () => {
    const data = randomBytes(5000);
    const want = reference(data);
    for (const step of [1, 3, 63, 64, 65, 1000, 4999]) {
      const h = new Sha256();
      for (let i = 0; i < data.length; i += step) h.update(data.subarray(i, i + step));
      expect(h.hex(), `pieces of ${step}`).toBe(want);
    }
    expect(new Sha256().update(data.subarray(0, 10)).update(new Uint8Array(0)).update(data.subarray(10)).hex()).toBe(want);
  });

  it('matches WebCrypto on a megabyte', async () => {
    const data = randomBytes(1 << 20);
    const web = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    expect(new Sha256().update(data).digest()).toEqual(web);
  });
});
