/** Milliseconds spent per named phase, summed over every call. */
export class Timer {
  readonly phases: Record<string, number> = {};
  timeSync<T>(phase: string, work: () => T): T {
    const t0 = performance.now();
    try {
      return work();
    } finally {
      this.phases[phase] = (this.phases[phase] ?? 0) + performance.now() - t0;
    }
  }
  async time<T>(phase: string, work: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.phases[phase] = (this.phases[phase] ?? 0) + performance.now() - t0;
    }
  }
}
