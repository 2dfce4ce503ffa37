/**
 * Open the login address in the desktop's browser, where there is one
 * (xdg-open and a display). The address holds the login token, so it never
 * goes into a command line (other users can read those): the browser opens a
 * 0600 file that forwards to it, removed once the browser had time to read it.
 */
import { exec, hasProgram } from "../util/exec.ts";
import { html } from "./html.ts";
import { memoryRoot } from "../run/local_node.ts";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** True when a browser was asked to open the address. */
export async function openBrowser(url: string): Promise<boolean> {
  if (!env("DISPLAY") && !env("WAYLAND_DISPLAY")) return false;
  if (!(await hasProgram("xdg-open"))) return false;
  const root = await memoryRoot().catch(() => undefined);
  if (root === undefined) return false;
  const dir = await Deno.makeTempDir({ dir: root, prefix: "sealbatch-ui-" });
  const file = `${dir}/open.html`;
  await Deno.writeTextFile(
    file,
    html`
      <!doctype html>
      <meta charset="utf-8">
      <meta http-equiv="refresh" content="0;url=${url}">
      <title>sealbatch ui</title>
      <p><a href="${url}">Open sealbatch ui</a></p>
    `.text,
    { createNew: true, mode: 0o600 },
  );
  try {
    await exec("xdg-open", [file], { what: "cannot open a browser", okCodes: [0, 1, 2, 3, 4] });
  } catch {
    // No browser after all: the printed address still works.
  }
  setTimeout(() => Deno.remove(dir, { recursive: true }).catch(() => {}), 30_000);
  return true;
}
