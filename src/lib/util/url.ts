/**
 * Encodes a relative file path for a URL. Characters that are legal in a path (`=`, `,`, `@`, `+`…)
 * stay literal because static servers decode paths with `decodeURI`, which leaves their
 * percent-escapes alone (so `a%3Db.json` would not find `a=b.json`).
 */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURI(segment).replace(/[?#]/g, (c) => encodeURIComponent(c)))
    .join('/');
}
