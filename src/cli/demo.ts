/** `sealbatch demo`: the tutorial end to end on this machine (or on the local test site). */
import { Command } from "@commander-js/extra-typings";
import type { DemoResult, DemoSite } from "../demo/demo.ts";
import { usageError } from "../util/errors.ts";
import { sitePath } from "../config/site_path.ts";
import { formatDuration } from "../util/duration.ts";
import { bold, dim, note, result, warn } from "./output.ts";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The closing table: one row per step, what protected it, how long it took. */
function stepTable(r: DemoResult): string {
  const rows = r.steps.map((s) => [s.name, s.protection, seconds(s.ms)]);
  const head = ["step", "protected by", "time"];
  const width = (i: number) => Math.max(head[i]!.length, ...rows.map((row) => row[i]!.length));
  const w = [width(0), width(1), width(2)];
  const line = (cells: string[]) =>
    `${cells[0]!.padEnd(w[0]!)}  ${cells[1]!.padEnd(w[1]!)}  ${cells[2]!.padStart(w[2]!)}`;
  return [
    line(head),
    line(w.map((n) => "-".repeat(n))),
    ...rows.map(line),
    line(["total", "", seconds(r.totalMs)]),
  ].join("\n");
}

export function demoCommand() {
  return new Command("demo")
    .description(
      "run the reference tutorial end to end on this machine (a development Vault, a local " +
        "stand-in for the shared file system, the node side run as Slurm would run it); " +
        "ends with a table of the steps and a PNG of the reconstruction",
    )
    .option("--dir <dir>", "demo directory (new, empty or an earlier demo's)", "sealbatch-demo")
    .option(
      "--site <site>",
      "run on a site instead: 'test' (the local test site, scripts/test-site.sh) or a profile",
    )
    .option("--sign-key <file>", "with --site: your secret key registered on the site's node")
    .addHelpText(
      "after",
      `
Needs no HPC account and no root. The tutorial's job is 'bart fft -u -i 3' on the
Shepp-Logan k-space; without bart a job that copies the k-space runs instead (a notice
says so). With --site the dev Vault listens on a free port of the profile's loopback
vault.addr host (the site's node must reach this machine's loopback, as the test site's does).

Examples:
  sealbatch demo
  sealbatch demo --dir /tmp/demo
  sealbatch demo --site test`,
    )
    .action(async (opts) => {
      if (opts.signKey !== undefined && opts.site === undefined) {
        throw usageError("--sign-key needs --site");
      }
      const { runDemo, testSite } = await import("../demo/demo.ts");
      let site: DemoSite | undefined;
      if (opts.site === "test") {
        site = await testSite();
        if (opts.signKey !== undefined) site.signKey = opts.signKey;
      } else if (opts.site !== undefined) {
        site = {
          profile: sitePath(opts.site),
          ...(opts.signKey !== undefined ? { signKey: opts.signKey } : {}),
        };
      }
      const r = await runDemo({
        dir: opts.dir,
        ...(site ? { site } : {}),
        onNotice: (text) => warn(text),
        onStep: (s) => note(dim(`sealbatch: ${s.name} done (${formatDuration(s.ms)})`)),
        onRunEvent: (e) => {
          if (e.phase === "done") {
            note(dim(`sealbatch: ${e.step} done (${formatDuration(e.ms ?? 0)})`));
          } else if (e.phase === "note" && e.detail) note(`sealbatch: ${e.detail}`);
        },
      });
      const human = [
        "",
        bold(`sealbatch demo: job ${r.job} ran on the ${r.where}`),
        "",
        stepTable(r),
        "",
        `${r.bart ? "reconstruction" : "k-space"} (PNG${
          r.bart ? "" : ", bart not installed"
        }): ${r.png}`,
        `results (opened here): ${r.outputs}`,
        ...(r.shared ? [`stand-in shared file system (ciphertext only): ${r.shared}`] : []),
      ].join("\n");
      result(human, {
        job: r.job,
        where: r.where,
        bart: r.bart,
        ...(r.notice ? { notice: r.notice } : {}),
        png: r.png,
        outputs: r.outputs,
        ...(r.shared ? { shared: r.shared } : {}),
        steps: r.steps,
        totalMs: r.totalMs,
      });
    });
}
