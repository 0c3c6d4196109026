/**
 * A variant's decode speed from repeated short generations. The first passes pay for kernel
 * compilation, allocation and (on a small model, where the JavaScript around each step
 * dominates) the JIT warming up, so they are not timed. Both phases are bounded in time as well
 * as in passes: a billion-parameter model decoding a few tokens a second on a CPU spends seconds
 * on every pass, and a fixed five passes per variant added minutes to a run for a figure one
 * steady pass already gives.
 */
export interface SpeedBudget {
  /** Untimed warm-up: at least one pass, and passes until this long has gone by. */
  warmMs: number;
  /** Timed passes: this many, or as many as `timedMs` allows (at least one). */
  passes: number;
  timedMs: number;
}

export const DECODE_SPEED_BUDGET: SpeedBudget = { warmMs: 1000, passes: 3, timedMs: 2000 };

/**
 * The median tokens/s of the timed passes (`pass` returns a pass's speed, or null when it had
 * too few tokens to tell); undefined when none told.
 */
export async function steadySpeed(
  pass: () => Promise<number | null>,
  budget: SpeedBudget = DECODE_SPEED_BUDGET,
  now: () => number = () => performance.now(),
): Promise<number | undefined> {
  const warmUntil = now() + budget.warmMs;
  do await pass();
  while (now() < warmUntil);
  const speeds: number[] = [];
  const timeUntil = now() + budget.timedMs;
  let timed = 0;
  do {
    const speed = await pass();
    timed++;
    if (speed !== null) speeds.push(speed);
  } while (timed < budget.passes && now() < timeUntil);
  speeds.sort((a, b) => a - b);
  return speeds.length ? speeds[speeds.length >> 1] : undefined;
}
