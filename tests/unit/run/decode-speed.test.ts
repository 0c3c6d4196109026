import { describe, expect, it } from 'vitest';
import { DECODE_SPEED_BUDGET, steadySpeed } from '../../../src/lib/run/decode-speed';

/** A pass that takes `ms` on a fake clock and reports the speeds given, in turn. */
function passes(ms: number, speeds: (number | null)[]) {
  let clock = 0;
  let calls = 0;
  return {
    now: () => clock,
    get calls() {
      return calls;
    },
    pass: async () => {
      clock += ms;
      return speeds[calls++ % speeds.length];
    },
  };
}

describe('a variant’s decode speed', () => {
  it('a fast model warms for the whole second, then takes the median of three timed passes', async () => {
    const p = passes(10, [50]);
    const speeds = [5, 40, 30, 20];
    let n = 0;
    const got = await steadySpeed(
      async () => {
        const warm = p.now() < 1000;
        await p.pass();
        return warm ? 1 : speeds[n++];
      },
      DECODE_SPEED_BUDGET,
      p.now,
    );
    expect(p.calls).toBe(100 + 3);
    expect(got).toBe(30); // median of 5, 40, 30: the fourth speed is never taken
  });

  it('a slow model gets one untimed and one timed pass, not five', async () => {
    const p = passes(8000, [1.5]);
    expect(await steadySpeed(p.pass, DECODE_SPEED_BUDGET, p.now)).toBe(1.5);
    expect(p.calls).toBe(2);
  });

  it('passes of about a second: as many timed ones as two seconds allow', async () => {
    const p = passes(1200, [7]);
    await steadySpeed(p.pass, DECODE_SPEED_BUDGET, p.now);
    expect(p.calls).toBe(1 + 2);
  });

  it('no speed when no pass could tell one', async () => {
    const p = passes(300, [null]);
    expect(await steadySpeed(p.pass, DECODE_SPEED_BUDGET, p.now)).toBeUndefined();
    expect(p.calls).toBe(4 + 3);
  });
});
