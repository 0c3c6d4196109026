import { spawn } from 'node:child_process';

/**
 * Runs `ctlab ARGS` with every progress step on its own line and SIGKILLs it the moment its
 * stderr satisfies `when`; resolves with that stderr, rejects with it when the process ended
 * before the moment came.
 */
export function killCtlabWhen(args: string[], when: (stderr: string) => boolean): Promise<string> {
  // Every step a line: a fast machine finishes a step inside the default 5 s between lines.
  const child = spawn('node', ['bin/ctlab.mjs', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CTLAB_LOG_EVERY_S: '0' },
  });
  let stderr = '';
  let killed = false;
  return new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && when(stderr)) killed = child.kill('SIGKILL');
    });
    child.on('exit', () => (killed ? resolve(stderr) : reject(new Error(stderr))));
  });
}

/** Inside `label`'s progress ("[dense · privacy generate] 3/89 items"), with some but not all of its items done. */
export function partwayThrough(label: string): (stderr: string) => boolean {
  const pattern = new RegExp(`\\[${label.replace(/[[\]]/g, '\\$&')}\\] (\\d+)/(\\d+) items`, 'g');
  return (stderr) => {
    const at = [...stderr.matchAll(pattern)].at(-1);
    return at !== undefined && Number(at[1]) > 0 && Number(at[1]) < Number(at[2]);
  };
}
