/** `sealbatch job list` / `job show ID`: the jobs this project has run, from its state files. */
import { Command } from "@commander-js/extra-typings";
import type { JobEntry } from "../run/project.ts";
import { result } from "./output.ts";

export function outcome(j: JobEntry): string {
  if (j.exitCode !== undefined) {
    return j.exitCode === 0 ? "COMPLETED" : `FAILED (exit ${j.exitCode})`;
  }
  if (j.slurmState) return j.slurmState;
  return j.finished ? "done" : `stopped after ${j.stage}`;
}

export function jobListCommand() {
  return new Command("list")
    .description("list the jobs `sealbatch run` ran in this project (./.sealbatch)")
    .option("--project <dir>", "project directory (default: the current directory)")
    .addHelpText("after", "\nExamples:\n  sealbatch job list\n  sealbatch --json job list")
    .action(async (opts) => {
      const { listJobs, projectStateDir } = await import("../run/project.ts");
      const jobs = await listJobs(projectStateDir(opts.project ?? Deno.cwd()));
      const rows = [
        ["job", "created", "slurm", "state", "spec"],
        ...jobs.map((j) => [
          j.job,
          j.plan?.createdAt.slice(0, 19).replace("T", " ") ?? "-",
          j.slurmJob ?? "-",
          outcome(j),
          j.plan?.spec ?? "-",
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      const text = jobs.length === 0
        ? "no jobs in this project yet"
        : rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
      result(text, jobs);
    });
}

export function jobShowCommand() {
  return new Command("show")
    .description("show one job of this project: its steps, Slurm id and verified receipt")
    .argument("<id>", "job id (from 'sealbatch job list')")
    .option("--project <dir>", "project directory (default: the current directory)")
    .addHelpText("after", "\nExamples:\n  sealbatch job show bart-fft-1a2b3c4d")
    .action(async (id, opts) => {
      const { projectStateDir, showJob } = await import("../run/project.ts");
      const j = await showJob(projectStateDir(opts.project ?? Deno.cwd()), id);
      const lines = [
        `job      ${j.job}`,
        `state    ${outcome(j)}`,
        `spec     ${j.plan?.spec ?? "-"}`,
        `input    ${j.plan?.input ?? "-"}`,
        `outputs  ${j.plan?.outputs ?? "-"}`,
        `slurm    ${j.slurmJob ?? "-"}`,
        `steps    ${j.steps.join(", ") || "-"}`,
      ];
      if (j.receipt) {
        const r = j.receipt;
        lines.push(
          `receipt  verified: signed by the node key`,
          `         nonce ${r.nonce}, user ${r.user}, exit ${r.exit_code}`,
          `         ${r.started_at} .. ${r.ended_at}`,
          `         results ${r.results ? `${r.results.path} sha256 ${r.results.sha256}` : "none"}`,
        );
      } else lines.push("receipt  none yet");
      result(lines.join("\n"), j);
    });
}
