import { compressSeconds, DEFAULT_RATES, PRESET_ITEMS } from './cost-model';
import type { CostRates, RunEvent, RunOutline, VariantTimings } from './types';
import type { VariantMethod } from '../variants/spec';

/** The step the run is on: one line with its own bar. */
export interface CurrentStep {
  label: string;
  done: number;
  total: number | null;
  /** What `done` and `total` count. */
  unit: 'bytes' | 'items' | 'fraction';
  detail?: string;
  /** `variant · perspective (mode)` while a perspective is evaluated. */
  cell?: string;
}

/** A variant done, as one line: its whole time, and the part of it spent compressing. */
export interface FinishedVariant {
  id: string;
  label: string;
  seconds: number | null;
  compressSeconds: number | null;
}

/** A run's progress as people read it: one overall bar, the current step, the variants finished. */
export interface RunProgressView {
  /** Weighted work done, 0–1; never decreases while the run goes on, also when estimates change. */
  fraction: number;
  /** Seconds left, from the rates this run measured (the machine's earlier rates until then). */
  etaSeconds: number | null;
  current: CurrentStep | null;
  status: string;
  finished: FinishedVariant[];
  variants: { done: number; total: number };
}

export function emptyProgress(): RunProgressView {
  return { fraction: 0, etaSeconds: null, current: null, status: 'starting', finished: [], variants: { done: 0, total: 0 } };
}

type UnitKind = 'compress' | 'load' | 'evaluate' | 'fidelity';

interface Unit {
  variant: string;
  kind: UnitKind;
  /** `perspective|mode` of an evaluation cell. */
  cell?: string;
  /** Share of the unit done, 0–1. */
  done: number;
  /** Items, once an event has told; until then the same cell of an earlier variant, or the preset's guess. */
  items: number | null;
  /** When this session first saw the unit working, and the items done by then (reused ones are not timed). */
  startedAt: number | null;
  itemsAtStart: number;
  itemsNow: number;
}

interface Rate {
  seconds: number;
  amount: number;
}

/** Items the fidelity step checks, until its first event says. */
const FIDELITY_ITEMS = 8;
/** A rate needs this many timed items before it replaces the earlier estimate. */
const MIN_TIMED_ITEMS = 2;

const unitKey = (variant: string, kind: UnitKind, cell = ''): string => `${variant}\u0000${kind}\u0000${cell}`;

/**
 * Folds a run's events into one overall bar and an ETA. Every unit of work (compressing a
 * variant, loading it, each perspective × mode, its fidelity check) is weighed by its estimated
 * seconds: the machine's rates from earlier runs at first, this run's own measured rates as soon
 * as it has them. When an estimate changes only the remaining part of the bar is rescaled, so the
 * bar never moves back.
 */
export class RunProgressModel {
  private readonly units = new Map<string, Unit>();
  private readonly order: string[] = [];
  private readonly methods = new Map<string, VariantMethod>();
  private readonly labels = new Map<string, string>();
  private readonly variantStart = new Map<string, number>();
  private readonly timed = new Map<string, Rate>();
  private readonly finished = new Map<string, FinishedVariant>();
  private rates: CostRates = DEFAULT_RATES;
  private modelBytes = 0;
  private preset = '';
  private fraction = 0;
  private current: CurrentStep | null = null;
  private status = 'starting';
  private ended = false;
  private now = 0;

  /** `now` in milliseconds (any monotonic clock). */
  apply(e: RunEvent, now: number): void {
    this.now = now;
    switch (e.phase) {
      case 'plan':
        this.outline(e.outline);
        break;
      case 'download': {
        const p = e.progress;
        this.current = { label: `downloading ${p.file}`, done: p.loaded, total: p.total, unit: 'bytes', detail: p.phase };
        this.status = this.current.label;
        break;
      }
      case 'variant-start':
        this.variantStart.set(e.variant, now);
        this.start(unitKey(e.variant, 'compress'), now);
        break;
      case 'compress': {
        const key = unitKey(e.variant, 'compress');
        this.start(key, now);
        if (e.fraction !== null) this.advance([[key, e.fraction]]);
        this.current = {
          label: `compressing ${this.label(e.variant)}`,
          done: e.fraction ?? 0,
          total: 1,
          unit: 'fraction',
          detail: e.message,
        };
        this.status = this.current.label;
        break;
      }
      case 'load':
        this.finishUnit(unitKey(e.variant, 'compress'), now);
        this.start(unitKey(e.variant, 'load'), now);
        this.current = { label: `loading ${this.label(e.variant)} and measuring its speed`, done: 0, total: null, unit: 'fraction' };
        this.status = this.current.label;
        break;
      case 'graph':
        this.current = { label: `building the graph of ${this.label(e.variant)}`, done: e.done, total: e.total, unit: 'bytes' };
        this.status = this.current.label;
        break;
      case 'evaluate': {
        this.finishUnit(unitKey(e.variant, 'compress'), now);
        this.finishUnit(unitKey(e.variant, 'load'), now);
        const cell = `${e.perspective}|${e.mode}`;
        const key = this.ensure(e.variant, 'evaluate', cell);
        this.itemsProgress(key, e.done, e.total, now);
        const name = `${e.variant} · ${e.perspective} (${e.mode})`;
        this.current = {
          label: `evaluating ${name}`,
          done: e.done,
          total: e.total,
          unit: 'items',
          ...(e.reused ? { detail: `${e.reused} reused` } : {}),
          cell: name,
        };
        this.status = this.current.label;
        break;
      }
      case 'fidelity': {
        const key = this.ensure(e.variant, 'fidelity');
        this.itemsProgress(key, e.done, e.total, now);
        this.current = { label: `checking ${this.label(e.variant)} against dense`, done: e.done, total: e.total, unit: 'items' };
        this.status = this.current.label;
        break;
      }
      case 'variant-done': {
        for (const k of this.order) if (this.units.get(k)!.variant === e.variant) this.finishUnit(k, now);
        const t = e.timings;
        const measured = t ? ((t.compressMs ?? 0) + (t.loadMs ?? 0) + (t.evaluateMs ?? 0)) / 1000 : null;
        const since = this.variantStart.get(e.variant);
        this.finished.set(e.variant, {
          id: e.variant,
          label: this.label(e.variant),
          seconds: measured ?? (since !== undefined ? (now - since) / 1000 : null),
          compressSeconds: t?.compressMs ? t.compressMs / 1000 : null,
        });
        this.status = `${this.label(e.variant)} done`;
        this.current = null;
        break;
      }
      case 'done':
        this.advance(this.order.map((k) => [k, 1]));
        this.fraction = 1;
        this.ended = true;
        this.current = null;
        this.status = 'finished';
        break;
      case 'error':
        this.ended = true;
        this.status = e.message;
        break;
    }
  }

  view(): RunProgressView {
    const total = this.methods.size;
    return {
      fraction: this.fraction,
      etaSeconds: this.ended ? (this.fraction >= 1 ? 0 : null) : this.order.length ? this.remainingSeconds() : null,
      current: this.current ? { ...this.current } : null,
      status: this.status,
      finished: [...this.finished.values()].map((f) => ({ ...f })),
      variants: { done: this.finished.size, total },
    };
  }

  /** Sets the units out; on a resume in the same page the bar keeps its place and only adds what was done meanwhile. */
  private outline(o: RunOutline): void {
    this.rates = o.rates;
    this.modelBytes = o.modelBytes;
    this.preset = o.preset;
    this.ended = false;
    const doneCells = new Set(o.done);
    const completed: [string, number][] = [];
    for (const v of o.variants) {
      this.methods.set(v.id, v.method);
      this.labels.set(v.id, v.label);
      if (v.method !== 'dense') completed.push([this.ensure(v.id, 'compress'), v.compressed ? 1 : 0]);
      completed.push([this.ensure(v.id, 'load'), v.finished ? 1 : 0]);
      for (const c of o.cells) {
        const cell = `${c.perspective}|${c.mode}`;
        completed.push([this.ensure(v.id, 'evaluate', cell), doneCells.has(`${v.id}|${cell}`) ? 1 : 0]);
      }
      if (v.finished)
        this.finished.set(v.id, {
          id: v.id,
          label: v.label,
          seconds: totalSeconds(v.timings),
          compressSeconds: v.timings?.compressMs ? v.timings.compressMs / 1000 : null,
        });
    }
    this.advance(completed.filter(([k, d]) => d > this.units.get(k)!.done));
  }

  private ensure(variant: string, kind: UnitKind, cell?: string): string {
    const key = unitKey(variant, kind, cell);
    if (!this.units.has(key)) {
      this.units.set(key, {
        variant,
        kind,
        ...(cell ? { cell } : {}),
        done: 0,
        items: null,
        startedAt: null,
        itemsAtStart: 0,
        itemsNow: 0,
      });
      this.order.push(key);
      if (!this.methods.has(variant)) this.methods.set(variant, 'dense');
    }
    return key;
  }

  private label(variant: string): string {
    return this.labels.get(variant) ?? variant;
  }

  private start(key: string, now: number): void {
    const u = this.units.get(key);
    if (u && u.startedAt === null && u.done < 1) u.startedAt = now;
  }

  private itemsProgress(key: string, done: number, total: number, now: number): void {
    const u = this.units.get(key)!;
    if (u.startedAt === null) {
      u.startedAt = now;
      u.itemsAtStart = done;
    }
    u.items = total;
    u.itemsNow = done;
    const wasDone = u.done >= 1;
    this.advance([[key, total > 0 ? Math.min(1, done / total) : 1]]);
    if (!wasDone && u.done >= 1) this.record(u, now);
  }

  /** Marks a unit finished; a timed unit adds its duration to its kind's measured rate. */
  private finishUnit(key: string, now: number): void {
    const u = this.units.get(key);
    if (!u) return;
    // A compression reports its last fraction before it is saved; it is timed until the next step starts.
    if (u.done < 1) this.advance([[key, 1]]);
    this.record(u, now);
  }

  private record(u: Unit, now: number): void {
    if (u.startedAt === null) return;
    const seconds = (now - u.startedAt) / 1000;
    const add = (name: string, amount: number): void => {
      const r = this.timed.get(name) ?? { seconds: 0, amount: 0 };
      r.seconds += seconds;
      r.amount += amount;
      this.timed.set(name, r);
    };
    if (u.kind === 'compress') add(`compress:${this.methods.get(u.variant)}`, this.modelBytes);
    else if (u.kind === 'load') add('load', 1);
    else {
      const items = u.itemsNow - u.itemsAtStart;
      if (items > 0) add(u.kind === 'evaluate' ? `cell:${u.cell}` : 'fidelity', items);
      if (items > 0 && u.kind === 'evaluate') add('evaluate', items);
    }
    u.startedAt = null;
  }

  /** Moves units forward; the bar advances by their share of the work that remained, at today's estimates. */
  private advance(moves: [string, number][]): void {
    const remaining = this.remainingSeconds();
    let gained = 0;
    for (const [key, to] of moves) {
      const u = this.units.get(key)!;
      if (to <= u.done) continue;
      gained += (to - u.done) * this.weight(u);
      u.done = to;
    }
    if (gained > 0 && remaining > 0) this.fraction = Math.min(1, this.fraction + ((1 - this.fraction) * gained) / remaining);
  }

  private remainingSeconds(): number {
    let s = 0;
    for (const k of this.order) {
      const u = this.units.get(k)!;
      s += (1 - u.done) * this.weight(u);
    }
    return s;
  }

  /** Estimated seconds for a whole unit, from the best rate known now. */
  private weight(u: Unit): number {
    switch (u.kind) {
      case 'compress': {
        const method = this.methods.get(u.variant) ?? 'dense';
        const own = this.measured(`compress:${method}`, 1);
        if (own !== null) return own * this.modelBytes;
        // A method not run yet: its estimate, scaled by how the methods that did run compared with theirs.
        const ratios = [...this.timed.keys()]
          .filter((k) => k.startsWith('compress:'))
          .map((k) => {
            const m = k.slice('compress:'.length) as VariantMethod;
            return ((this.measured(k, 1) ?? 0) * this.modelBytes) / compressSeconds(this.rates, m, this.modelBytes);
          });
        const speed = ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : 1;
        return compressSeconds(this.rates, method, this.modelBytes) * speed;
      }
      case 'load':
        return this.measured('load', 1) ?? this.rates.loadSeconds;
      case 'evaluate':
        return (
          this.itemsOf(u) *
          (this.measured(`cell:${u.cell}`, MIN_TIMED_ITEMS) ?? this.measured('evaluate', MIN_TIMED_ITEMS) ?? this.rates.secondsPerItem)
        );
      case 'fidelity':
        return (
          (u.items ?? FIDELITY_ITEMS) *
          (this.measured('fidelity', MIN_TIMED_ITEMS) ?? this.measured('evaluate', MIN_TIMED_ITEMS) ?? this.rates.secondsPerItem)
        );
    }
  }

  /** Seconds per unit of `name` this run measured, counting the evaluations under way. */
  private measured(name: string, minAmount: number): number | null {
    let seconds = this.timed.get(name)?.seconds ?? 0;
    let amount = this.timed.get(name)?.amount ?? 0;
    for (const u of this.units.values()) {
      if (u.startedAt === null || u.done >= 1 || (u.kind !== 'evaluate' && u.kind !== 'fidelity')) continue;
      const counts = u.kind === 'fidelity' ? name === 'fidelity' : name === 'evaluate' || name === `cell:${u.cell}`;
      if (!counts || u.itemsNow <= u.itemsAtStart) continue;
      seconds += (this.now - u.startedAt) / 1000;
      amount += u.itemsNow - u.itemsAtStart;
    }
    return amount >= minAmount && seconds > 0 ? seconds / amount : null;
  }

  private itemsOf(u: Unit): number {
    if (u.items !== null) return u.items;
    for (const k of this.order) {
      const other = this.units.get(k)!;
      if (other.kind === 'evaluate' && other.cell === u.cell && other.items !== null) return other.items;
    }
    return PRESET_ITEMS[this.preset] ?? 100;
  }
}

function totalSeconds(t: VariantTimings | undefined): number | null {
  return t ? ((t.compressMs ?? 0) + (t.loadMs ?? 0) + (t.evaluateMs ?? 0)) / 1000 : null;
}
