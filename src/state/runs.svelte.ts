import * as Comlink from 'comlink';
import type { RunDoc, RunEvent, RunPlan } from '../lib/run/types';
import { emptyProgress, RunProgressModel, type RunProgressView } from '../lib/run/progress';
import type { ResultsDoc } from '../lib/run/results';
import { evalWorker } from './workers';

/** Page state for runs: the active run's progress, the history, the results being looked at. */
export class RunsState {
  history = $state<RunDoc[]>([]);
  activeId = $state<string | null>(null);
  progress = $state<RunProgressView>(emptyProgress());
  results = $state<ResultsDoc | null>(null);
  error = $state<string | null>(null);
  /** The run whose progress `progress` shows; kept when that run is resumed, so its bar does not start over. */
  private tracked: { id: string; model: RunProgressModel } | null = null;

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
    if (this.tracked?.id !== id) {
      this.tracked = { id, model: new RunProgressModel() };
      this.progress = emptyProgress();
    }
    const model = this.tracked.model;
    const onEvent = (e: RunEvent): void => {
      model.apply(e, performance.now());
      this.progress = model.view();
      // The history names the model as soon as the run knows it; results show as variants finish.
      if (e.phase === 'plan') void this.refresh();
      if (e.phase === 'variant-done') void this.showPartial(id);
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

  /** Results so far of the run in progress; the final results replace them. */
  private async showPartial(id: string): Promise<void> {
    const doc = await evalWorker().runResults(id);
    if (this.activeId === id) this.results = doc;
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
