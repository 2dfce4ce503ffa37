/**
 * `sealbatch ui` for tests: the real command in a child process with the
 * shipped permission set (as users run it), its one-time address read from
 * its first line of output.
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { CLI_ARGS, HERMETIC_NODE_CONFIG, ROOT } from "../_helpers/cli.ts";
import type { Page } from "./_browser.ts";

export interface UiProcess extends AsyncDisposable {
  /** The one-time login address. */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Stop it with this signal (SIGKILL: as if the machine lost power). */
  kill(signal: Deno.Signal): Promise<void>;
}

export async function startUiProcess(
  project: string,
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<UiProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "ui", "--project", project, "--no-open"],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", SEALBATCH_NODE_CONFIG: HERMETIC_NODE_CONFIG, ...(opts.env ?? {}) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) err += chunk;
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`sealbatch ui did not start:\n${err}`);
    }
    out += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const url = out.split("\n")[0]!.trim();
  const origin = new URL(url).origin;
  return {
    url,
    origin,
    port: Number(new URL(url).port),
    stderr: () => err,
    async kill(signal: Deno.Signal) {
      child.kill(signal);
      await child.status;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** Log in with fetch (no browser): the session cookie and the CSRF token. */
export async function login(ui: UiProcess): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(ui.url, { redirect: "manual" });
  await r.body?.cancel();
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0]!;
  if (r.status !== 200 || !cookie) throw new Error(`login failed: ${r.status}`);
  const page = await (await fetch(`${ui.origin}/run`, { headers: { cookie } })).text();
  const csrf = /<input type="hidden" name="_csrf" value="([0-9a-f]+)">/.exec(page)?.[1];
  if (!csrf) throw new Error("no CSRF token in the page");
  return { cookie, csrf };
}

/**
 * Where screenshots go: SEALBATCH_UI_SCREENSHOTS (kept: how docs/ui is made),
 * else a fresh temporary directory, removed with the test.
 */
export async function screenshotDir(): Promise<{ path: string } & AsyncDisposable> {
  const dir = Deno.env.get("SEALBATCH_UI_SCREENSHOTS");
  if (dir) {
    await Deno.mkdir(dir, { recursive: true });
    return { path: dir, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const path = await Deno.makeTempDir({ prefix: "sealbatch-ui-shots-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/**
 * Take a screenshot, write it, and check it is a real picture of the page (not
 * blank) that fits the window's width.
 */
export async function shot(
  page: Page,
  dir: string,
  name: string,
  size: { width: number; height: number } = { width: 1280, height: 800 },
): Promise<void> {
  const { png: bytes, scrollWidth } = await page.screenshot(size.width, size.height);
  // Readable at this size: the page itself never scrolls sideways (wide tables scroll inside).
  assert.ok(
    scrollWidth <= size.width,
    `${name}: ${scrollWidth}px wide in a ${size.width}px window`,
  );
  const png = decode(bytes);
  assert.equal(png.width, size.width, `${name}: width`);
  assert.equal(png.height, size.height, `${name}: height`);
  const values = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4 * 97) values.add(png.data[i]!);
  assert.ok(values.size > 8, `${name}: the screenshot is (nearly) blank`);
  await Deno.writeFile(`${dir}/${name}.png`, bytes);
}

/** What must never reach a browser: key armor, Vault tokens, given key bytes. */
export function assertNoSecrets(where: string, text: string, keys: string[] = []): void {
  assert.doesNotMatch(text, /-----BEGIN PGP (PRIVATE|MESSAGE)/, `${where}: OpenPGP armor`);
  assert.doesNotMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${where}: PEM private key`);
  assert.doesNotMatch(text, /\bhvs\.[A-Za-z0-9_-]{16,}/, `${where}: a Vault token`);
  assert.doesNotMatch(text, /\bs\.[A-Za-z0-9]{20,}/, `${where}: a legacy Vault token`);
  for (const k of keys) assert.ok(!text.includes(k), `${where}: key material ${k.slice(0, 8)}...`);
}
