import { formatBytes } from '../util/format';

export { formatBytes };

/** Base for every failure the cache reports to the user; `message` is meant to be shown as is. */
export class CacheError extends Error {
  override name = 'CacheError';
}

export class QuotaError extends CacheError {
  override name = 'QuotaError';
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly availableBytes: number,
  ) {
    super(message);
  }
}

export class HttpError extends CacheError {
  override name = 'HttpError';
  constructor(
    readonly file: string,
    readonly url: string,
    readonly status: number,
  ) {
    super(`HTTP ${status} while downloading ${file} from ${url}${HTTP_HINTS[status] ? `: ${HTTP_HINTS[status]}` : ''}`);
  }
}

const HTTP_HINTS: Record<number, string> = {
  401: 'the repository needs an access token (gated or private model)',
  403: 'access denied (gated model, or the host refuses this origin)',
  404: 'no such file at this location (check the model id, revision or base URL)',
  429: 'the host is rate-limiting requests; try again later',
  500: 'the server failed; try again later',
  502: 'bad gateway; try again later',
  503: 'the host is unavailable; try again later',
};

export class DownloadInterruptedError extends CacheError {
  override name = 'DownloadInterruptedError';
}

export class IntegrityError extends CacheError {
  override name = 'IntegrityError';
}

export class AbortedError extends CacheError {
  override name = 'AbortedError';
  constructor(what: string) {
    super(`${what} was cancelled; what was stored so far is kept and the download resumes next time`);
  }
}

export function isQuotaExceeded(err: unknown): boolean {
  return err instanceof DOMException && (err.name === 'QuotaExceededError' || err.code === 22);
}
