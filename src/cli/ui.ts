/** `sealbatch ui`: the secure workflow in a browser on this machine (loopback only). */
import { Command } from "@commander-js/extra-typings";
import { q, usageError } from "../util/errors.ts";
import { note, result } from "./output.ts";

export function uiCommand() {
  return new Command("ui")
    .description(
      "serve the workflow as web pages on 127.0.0.1 (sites, new job, run, jobs, results) and\n" +
        "print a one-time login address; the pages call the same steps as the commands",
    )
    .option("--project <dir>", "project directory (default: the current directory)")
    .option("--port <n>", "port on 127.0.0.1 (default: a free one)")
    .option("--no-open", "do not open a browser, only print the address")
    .addHelpText(
      "after",
      `
The address holds a random login token that works once: it buys a session
cookie that ends with this process. Runs started in the browser go on when
the page is closed; reopening the run page shows them. Ctrl-C stops the UI.

Examples:
  sealbatch ui
  sealbatch ui --project ~/studies/mri --port 8765 --no-open`,
    )
    .action(async (opts) => {
      const portText = opts.port ?? "0";
      const port = Number(portText);
      if (!/^\d{1,5}$/.test(portText) || port > 65535) {
        throw usageError(`--port: expected 0-65535, got ${q(portText)}`);
      }
      const { startUi } = await import("../ui/server.ts");
      const { openBrowser } = await import("../ui/open_browser.ts");
      const { onCleanup } = await import("../util/cleanup.ts");
      const ui = await startUi({ project: opts.project ?? Deno.cwd(), port });
      const stop = onCleanup(() => ui.shutdown());
      result(ui.url, { url: ui.url });
      note("sealbatch ui: open the address above in a browser on this machine; Ctrl-C stops");
      if (opts.open) await openBrowser(ui.url);
      await ui.finished;
      await stop();
    });
}
