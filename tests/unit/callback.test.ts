import { describe, expect, it } from 'vitest';
import { trackedCallback } from '../../src/lib/util/callback';

describe('trackedCallback', () => {
  it('settles only after the answer to the last call, as a Comlink proxy gives it', async () => {
    const handled: number[] = [];
    const proxyLike = (n: number) => new Promise<void>((resolve) => setTimeout(() => (handled.push(n), resolve()), 20 * (3 - n)));
    const cb = trackedCallback(proxyLike);
    cb.call(0);
    cb.call(1);
    cb.call(2);
    expect(handled).toEqual([]);
    await cb.settled();
    expect(handled).toContain(2);
  });

  it('passes arguments through, and neither a missing callback nor a failing one fails the work', async () => {
    const seen: string[] = [];
    const plain = trackedCallback((s: string) => void seen.push(s));
    plain.call('a');
    await plain.settled();
    expect(seen).toEqual(['a']);
    await expect(trackedCallback<[string]>().settled()).resolves.toBeUndefined();
    const failing = trackedCallback(() => Promise.reject(new Error('page gone')));
    failing.call();
    await expect(failing.settled()).resolves.toBeUndefined();
  });
});
