// @ts-check
// What a command of bin/commands/ is: parse (argv → a request, or a usage error), request (the
// page API called with it) and print (the result as the text on stdout and stderr). Output
// shapes are decided in print only; the page returns typed domain results.

/**
 * @typedef {import('../../src/state/automation').CtlabApi} CtlabApi
 * @typedef {import('../../src/state/automation').AutomationSource} AutomationSource
 * @typedef {import('./args.mjs').Argv} Argv
 * @typedef {import('./args.mjs').ModelArg} ModelArg
 */

/**
 * The page API as the CLI calls it: each method through page.evaluate, so every answer is a promise.
 * @typedef {{ [K in keyof CtlabApi]: (...args: Parameters<CtlabApi[K]>) => Promise<Awaited<ReturnType<CtlabApi[K]>>> }} Page
 */

/**
 * What a command works with once the app is served and open.
 * @typedef {object} Context
 * @property {Page} page
 * @property {(m: ModelArg) => AutomationSource} source a model as the page reaches it (a folder by its served URL)
 * @property {string | undefined} dataUrl `--data-dir` as served
 * @property {string} root the repository
 * @property {string} dist the built app
 * @property {ReturnType<typeof import('./progress-lines.mjs').progressLines>} lines progress on stderr
 * @property {import('./page-progress.mjs').PageProgress} progress
 * @property {boolean} quiet
 * @property {(start: () => Promise<unknown>, name: string) => Promise<import('playwright-core').Download>} [download] the download named `name` that a page call begins (exports)
 */

/**
 * What a command works with under `--runtime node`: the engine in this process, no page.
 * @typedef {object} NodeContext
 * @property {import('./node-engine.mjs').NodeEngine} engine dist-node/engine.mjs, Dawn installed
 * @property {string | null} adapter Dawn's adapter, or null when it found none
 * @property {string} root the repository
 * @property {ReturnType<typeof import('./progress-lines.mjs').progressLines>} lines progress on stderr
 * @property {import('./page-progress.mjs').PageProgress} progress the engine's events, printed as the page's are
 * @property {boolean} quiet
 */

/**
 * Folders the local server must serve for a request.
 * @typedef {{ models?: (ModelArg | null | undefined)[] }} Serve
 */

/** @typedef {{ stdout?: string, stderr?: string }} Output */

/**
 * @template Req, Res
 * @typedef {object} Command
 * @property {(argv: Argv) => Req & { serve?: Serve }} parse
 * @property {(ctx: Context, req: Req) => Promise<Res>} request
 * @property {(res: Res, req: Req, ctx: Context) => Output} print
 * @property {boolean} [standalone] opens its own browsers (bench scale): no page in its context
 * @property {(ctx: NodeContext, req: Req) => Promise<Res>} [node] the request run by the engine in this process (`--runtime node`)
 */

/**
 * A result as JSON: one line with --json, indented for people without it.
 * @param {unknown} value
 * @param {boolean} oneLine
 */
export function jsonText(value, oneLine) {
  return oneLine ? `${JSON.stringify(value)}\n` : `${JSON.stringify(value, null, 2)}\n`;
}
