/**
 * Globals that CommonJS code expects and a single-file bundle does not have.
 * ssh2's WebAssembly poly1305 loader refers to `__dirname`/`__filename`; in a
 * `deno bundle` output those are undefined and the load throws. main.ts
 * imports this module first so the globals exist before any dependency runs.
 * Under `deno run` or a compiled binary they are set per module already and
 * this changes nothing.
 */
const g = globalThis as { __dirname?: string; __filename?: string };
const here = import.meta.url.startsWith("file:") ? new URL(import.meta.url).pathname : "/";
g.__filename ??= here;
g.__dirname ??= here.slice(0, here.lastIndexOf("/")) || "/";
