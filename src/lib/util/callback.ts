/**
 * A callback that may live across a worker boundary. A Comlink proxy answers every call with a
 * promise, and its messages travel on their own port, so the worker's return value can reach
 * the page before the last callbacks do. Calls on one port are handled in order, so waiting for
 * the last call's answer (`settled`) means every earlier one has been handled too.
 */
export function trackedCallback<A extends unknown[]>(
  fn?: (...args: A) => unknown,
): { call: (...args: A) => void; settled: () => Promise<void> } {
  let last: Promise<unknown> = Promise.resolve();
  return {
    call: (...args: A) => {
      // A failed progress report must not fail the work it reports on.
      if (fn) last = Promise.resolve(fn(...args)).catch(() => undefined);
    },
    settled: () => last.then(() => undefined),
  };
}
