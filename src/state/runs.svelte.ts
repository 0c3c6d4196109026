import * as Comlink from 'comlink';
import type { RunDoc, RunEvent, RunPlan } from '../lib/run/orchestrator';
import { applyEvent, emptyProgress, type RunProgressView } from '../lib/run/progress';
import type { ResultsDoc } from '../lib/run/results';
import { evalWorker } from './workers';

/** Page state for runs: the active run's progress, the history, the results being looked at. */
export class RunsState {
  history = $state<RunDoc[]>([]);
  activeId = $state<string | null>(null);
  progress = $state<RunProgressView>(emptyProgress());
  results = $state<ResultsDoc | null>(null);
  error = $state<string | null>(null);

  /** `resumeInterrupted` is off when the CLI drives the page: it runs exactly what it asks for. */
  async init(resumeInterrupted = true): Promise<void> {
    await this.refresh();
    // A run still marked running was interrupted by a reload or a crash: pick it up again.
    const interrupted = resumeInterrupted ? this.history.find((r) => r.status === 'running') : undefined;
    if (interrupted) void this.resume(interrupted.id);
    else if (this.history[0]?.status === 'done') await this.show(this.history[0].id);
  }

  async refresh(): Promise<void> {
    this.history = await evalWorker().listRuns();
  }

  async start(plan: RunPlan): Promise<void> {
    const id = await evalWorker().createRun($state.snapshot(plan) as RunPlan);
    await this.refresh();
    await this.resume(id);
  }

  async resume(id: string): Promise<void> {
    this.error = null;
    this.activeId = id;
    this.progress = emptyProgress();
    // Bookkeeping for the ETA only; nothing renders from it.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    const started = new Map<string, { at: number; base: number }>();
    const onEvent = (e: RunEvent): void => {
      this.progress = applyEvent($state.snapshot(this.progress) as RunProgressView, e, performance.now(), started);
    };
    try {
      this.results = await evalWorker().runToEnd(id, Comlink.proxy(onEvent));
    } catch (err) {
      this.error = (err as Error).message;
    } finally {
      this.activeId = null;
      await this.refresh();
    }
  }

  cancel(): void {
    if (this.activeId) void evalWorker().cancelRun(this.activeId);
  }

  async show(id: string): Promise<void> {
    this.results = await evalWorker().runResults(id);
  }

  async remove(id: string): Promise<void> {
    await evalWorker().deleteRun(id);
    if (this.results && this.history.find((r) => r.id === id)) this.results = null;
    await this.refresh();
  }
}
