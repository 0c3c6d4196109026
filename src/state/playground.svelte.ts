import * as Comlink from 'comlink';
import type { Device } from '../lib/infer/causal-lm';
import { evalWorker } from './workers';

export interface Reply {
  prompt: string;
  text: string;
  state: 'loading' | 'streaming' | 'done' | 'failed' | 'cancelled';
  device?: Device;
  adapter?: string | null;
  tokensPerSecond?: number | null;
  status?: string;
  error?: string;
}

/** Page state for the prompt box: one streamed reply at a time from a cached model. */
export class PlaygroundState {
  reply = $state<Reply | null>(null);
  private jobId: string | null = null;

  async ask(modelKey: string, prompt: string, device: Device | 'auto', chat: boolean, maxNewTokens: number): Promise<void> {
    const api = evalWorker();
    const reply: Reply = { prompt, text: '', state: 'loading' };
    this.reply = reply;
    const r = this.reply;
    const id = crypto.randomUUID();
    this.jobId = id;
    try {
      await api.load(
        modelKey,
        device,
        Comlink.proxy((msg: string) => (r.status = msg)),
      );
      r.state = 'streaming';
      const request = chat ? { messages: [{ role: 'user' as const, content: prompt }], maxNewTokens } : { prompt, maxNewTokens };
      const out = await api.generate(
        modelKey,
        device,
        request,
        Comlink.proxy((piece: string) => (r.text += piece)),
        id,
      );
      r.text = out.text;
      r.device = out.device;
      r.adapter = out.adapter;
      r.tokensPerSecond = out.tokensPerSecond;
      r.state = out.finish === 'cancelled' ? 'cancelled' : 'done';
    } catch (err) {
      r.state = 'failed';
      r.error = (err as Error).message;
    } finally {
      this.jobId = null;
    }
  }

  cancel(): void {
    if (this.jobId) void evalWorker().cancel(this.jobId);
  }
}
