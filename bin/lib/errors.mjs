// @ts-check

/**
 * Errors from the page arrive wrapped by Playwright with the page's stack; people need the message.
 * @param {unknown} err
 */
export function cleanError(err) {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split('\n')[0]
    .replace(/^page\.evaluate: /, '')
    .replace(/^[A-Za-z]*Error: /, '');
}
