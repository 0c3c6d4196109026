/** Decimal units, as disks and browsers' storage pages report sizes. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (!Number.isFinite(n)) return '∞';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function percent(loaded: number, total: number | null): number | null {
  return total ? Math.min(100, (100 * loaded) / total) : null;
}

/** A duration as people say it: `40 s`, `12 min`, `2 h 5 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
