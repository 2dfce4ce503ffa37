/** `sealbatch job clean [JOB|--all-finished]`: nothing of a finished job stays on the shared side. */
import { Command } from "@commander-js/extra-typings";
import type { SiteProfile } from "../config/site.ts";
import { q, SealbatchError, usageError } from "../util/errors.ts";
import { note, result } from "./output.ts";
import { passphraseSource } from "./passphrase.ts";

export function jobCleanCommand() {
  return new Command("clean")
    .description(
      "remove a finished job's files on the shared side, check its Vault secrets are gone, and\n" +
        "drop the local copies of its containers; the local results stay",
    )
    .argument("[job]", "job id or Slurm id (from 'sealbatch job list')")
    .option("--all-finished", "every finished job of the project that is not cleaned yet")
    .option("--project <dir>", "project directory (default: the nearest one with jobs)")
    .option("--site <name|file>", "site profile (default: the one the job ran on)")
    .addHelpText(
      "after",
      `
A job that was submitted and has not been seen to end is refused: cancel it
first (sealbatch job cancel JOB). Secrets a run left in Vault are deleted now.

Examples:
  sealbatch job clean bart-fft-1a2b3c4d
  sealbatch job clean --all-finished
  sealbatch --json job clean --all-finished`,
    )
    .action(async (ref, opts) => {
      if ((ref === undefined) === !opts.allFinished) {
        throw usageError("give a job, or --all-finished (not both)");
      }
      const { findStateDir, listJobs, showJob } = await import("../run/project.ts");
      const { cleanJob, isFinished, notCleanable } = await import("../run/clean.ts");
      const root = await findStateDir(opts.project);
      const entries = ref !== undefined
        ? [await showJob(root, ref)]
        : (await listJobs(root)).filter((j) => isFinished(j) && !j.cleanedAt);
      // Refused before anything is touched.
      for (const e of entries) {
        const why = notCleanable(e);
        if (why) throw usageError(`cannot clean: ${why}`);
      }
      if (entries.length === 0) {
        result("no finished job to clean", []);
        return;
      }
      const { loadSiteProfile } = await import("../config/site.ts");
      const { siteProfilePath } = await import("../config/site_path.ts");
      const { SiteBackend } = await import("../run/site_backend.ts");
      const { vaultClientFor } = await import("./run.ts");
      const bySite = new Map<string, typeof entries>();
      for (const e of entries) {
        const site = opts.site ?? e.plan?.site;
        if (!site) {
          throw new SealbatchError(
            "input",
            `cannot clean ${q(e.job)}: its state names no site (it ran on the local executor?)`,
            { hint: "give --site NAME" },
          );
        }
        bySite.set(site, [...(bySite.get(site) ?? []), e]);
      }
      const cleaned = [];
      for (const [site, jobs] of bySite) {
        const profile: SiteProfile = await loadSiteProfile(await siteProfilePath(site));
        const identity = profile.ssh.identity;
        const vault = await vaultClientFor(profile, false);
        try {
          await using backend = await SiteBackend.connect(profile, {
            ...(identity
              ? { passphrase: () => passphraseSource(undefined)(`SSH identity ${identity}`) }
              : {}),
          });
          for (const entry of jobs) {
            const r = await cleanJob({ stateRoot: root, entry, backend, vault });
            note(
              `${r.job}: removed ${r.remoteDir} on ${profile.name}; ${r.secretsGone} secret(s) ` +
                `checked gone from Vault${r.revokedNow ? " (deleted now)" : ""}`,
            );
            cleaned.push(r);
          }
        } finally {
          vault.close();
        }
      }
      result(`cleaned ${cleaned.length} job(s); local results kept`, cleaned);
    });
}
