/** `sealbatch job list` / `job show ID`: the jobs this project has run, from its state files. */
import { Command } from "@commander-js/extra-typings";
import type { JobEntry } from "../run/project.ts";
import { result } from "./output.ts";

export function outcome(j: JobEntry): string {
  const cleaned = j.cleanedAt ? ", cleaned" : "";
  if (j.exitCode !== undefined) {
    return (j.exitCode === 0 ? "COMPLETED" : `FAILED (exit ${j.exitCode})`) + cleaned;
  }
  if (j.cleanedAt) return `${j.slurmState ?? "stopped"}, cleaned`;
  if (j.slurmState) return j.slurmState;
  return j.finished ? "done" : `stopped after ${j.stage}`;
}

export function jobListCommand() {
  return new Command("list")
    .description(
      "list the jobs `sealbatch run` ran in this project (its .sealbatch, found from here upward)",
    )
    .option(
      "--project <dir>",
      "project directory (default: the nearest one with jobs, from here upward)",
    )
    .addHelpText("after", "\nExamples:\n  sealbatch job list\n  sealbatch --json job list")
    .action(async (opts) => {
      const { findStateDir, listJobs } = await import("../run/project.ts");
      const root = await findStateDir(opts.project);
      const jobs = await listJobs(root);
      // Paths inside the project are shown relative to it: a cohort's rows differ by input.
      const project = root.slice(0, root.lastIndexOf("/") + 1);
      const rel = (p: string | undefined) =>
        p === undefined ? "-" : p.startsWith(project) ? p.slice(project.length) : p;
      const rows = [
        ["job", "created", "slurm", "state", "input", "spec"],
        ...jobs.map((j) => [
          j.job,
          j.plan?.createdAt.slice(0, 19).replace("T", " ") ?? "-",
          j.slurmJob ?? "-",
          outcome(j),
          rel(j.plan?.input),
          rel(j.plan?.spec),
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
    .argument("<job>", "job id (from 'sealbatch job list'), or its Slurm id")
    .option(
      "--project <dir>",
      "project directory (default: the nearest one with jobs, from here upward)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch job show bart-fft-1a2b3c4d\n  sealbatch job show 1234   # by its Slurm id",
    )
    .action(async (id, opts) => {
      const { findStateDir, nodeLogOf, showJob } = await import("../run/project.ts");
      const { stepsByNode } = await import("../job/progress.ts");
      const j = await showJob(await findStateDir(opts.project), id);
      const log = await nodeLogOf(j);
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
        // A job of several nodes: every node that ran it, and what it sealed.
        r.nodes?.forEach((n, i) =>
          lines.push(
            `         node ${i} ${n.host}: ${
              n.results ? `${n.results.path} sha256 ${n.results.sha256}` : "results not kept"
            }`,
          )
        );
      } else lines.push("receipt  none yet");
      // What the Slurm log says each node did (fixed progress lines only).
      for (const [node, steps] of stepsByNode(log ?? { lines: [], commandStarted: false })) {
        lines.push(`${node < 0 ? "log     " : `node ${node}  `} ${steps.join(", ")}`);
      }
      result(lines.join("\n"), j);
    });
}
