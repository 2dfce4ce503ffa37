/** `sealbatch run JOB.yaml`: the whole secure workflow for one job or a cohort. */
import { Command } from "@commander-js/extra-typings";
import type { JobSpec } from "../config/job_spec.ts";
import type { SiteProfile } from "../config/site.ts";
import { defaultSite, forSiteBuild, siteProfilePath } from "../config/site_path.ts";
import type { VaultClient } from "../kms/vault_client.ts";
import type { CohortRow } from "../run/cohort.ts";
import type { RunEvent, RunSummary } from "../run/run.ts";
import { formatDuration } from "../util/duration.ts";
import { q, reason, SealbatchError, usageError } from "../util/errors.ts";
import {
  bold,
  checkText,
  currentVerbosity,
  dim,
  event,
  forDisplay,
  jsonMode,
  note,
  oneLine,
  progressJson,
  red,
  result,
} from "./output.ts";
import { passphraseSource } from "./passphrase.ts";

interface RunFlags {
  site?: string;
  dryRun?: boolean;
  each?: string;
  concurrency: string;
  signKey?: string;
  passphraseFile?: string;
  new?: boolean;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`.replace(/\/\.\//g, "/");
}

const enc = new TextEncoder();

function eventText(e: RunEvent): string {
  switch (e.phase) {
    case "start":
      return "...";
    case "done":
      return `done ${formatDuration(e.ms ?? 0)}${e.detail ? `  ${e.detail}` : ""}`;
    case "skipped":
      return `skipped: ${e.detail ?? ""}`;
    default: {
      const pct = e.total ? ` ${Math.floor(((e.done ?? 0) / e.total) * 100)}%` : "";
      return `${oneLine(e.detail ?? "")}${pct}`;
    }
  }
}

/**
 * Progress of one job: a line per finished step; on a terminal the current
 * step is also a live line that the next line replaces.
 */
export function jobReporter(): (e: RunEvent) => void {
  const special = machineReporter();
  if (special) return special;
  const tty = Deno.stderr.isTerminal() && !jsonMode();
  const verbose = currentVerbosity() === "verbose";
  let live = false;
  let last = 0;
  return (e) => {
    const text = `${e.step.padEnd(15)}${eventText(e)}`;
    if (e.phase === "progress" || e.phase === "start") {
      if (!tty) {
        if (e.phase === "progress" && e.step === "wait") {
          note(`${e.step.padEnd(15)}Slurm: ${e.detail}`);
        } else if (verbose && e.phase === "start") note(text);
        return;
      }
      const now = Date.now();
      if (e.total && now - last < 100) return;
      last = now;
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${text.slice(0, 150)}`));
      live = true;
      return;
    }
    if (live) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    live = false;
    note(e.phase === "note" || e.phase === "skipped" ? dim(text) : text);
  };
}

/**
 * Progress of a cohort: on a terminal one live line per job, redrawn in
 * place; elsewhere a line per finished step of each job.
 */
function cohortReporter(): (e: RunEvent) => void {
  const special = machineReporter();
  if (special) return special;
  const tty = Deno.stderr.isTerminal() && !jsonMode();
  if (!tty) {
    return (e) => {
      if (e.phase === "done" || e.phase === "skipped") {
        note(`${e.job}  ${e.step.padEnd(15)}${eventText(e)}`);
      }
    };
  }
  const order: string[] = [];
  const status = new Map<string, string>();
  let drawn = 0;
  let last = 0;
  return (e) => {
    if (!status.has(e.job)) order.push(e.job);
    status.set(e.job, `${e.step.padEnd(15)}${eventText(e)}`);
    const now = Date.now();
    if (e.phase === "progress" && now - last < 100) return;
    last = now;
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const job of order) out += `\r\x1b[K${job}  ${status.get(job)!.slice(0, 120)}\n`;
    drawn = order.length;
    Deno.stderr.writeSync(enc.encode(out));
  };
}

/**
 * --progress=json: every event as one NDJSON line on stderr (integer
 * milliseconds), for wrappers and GUIs; -q: nothing.
 */
function machineReporter(): ((e: RunEvent) => void) | undefined {
  if (currentVerbosity() === "quiet") return () => {};
  if (!progressJson()) return undefined;
  return (e) => event("step", { ...e });
}

/** The run module's wording of a job's end (loaded with it, when a run starts). */
type OutcomeText = (s: RunSummary) => string;

function summaryText(s: RunSummary, outcomeText: OutcomeText): string {
  const out = [
    bold(`job ${s.job}${s.slurmJob ? ` (Slurm ${s.slurmJob})` : ""}: ${outcomeText(s)}`),
  ];
  for (const st of s.steps) {
    const time = st.resumed ? "earlier run" : formatDuration(st.ms);
    out.push(`  ${st.name.padEnd(15)}${time.padStart(11)}  ${st.protection}`);
  }
  if (s.dryRun) {
    out.push("dry run: nothing was escrowed in Vault and nothing changed on the site");
    if (s.checks) out.push(checkText(s.checks).replace(/^/gm, "  "));
    out.push("would upload:");
    for (const u of s.uploads) out.push(`  ${u.name}  ${u.bytes} bytes  sha256 ${u.sha256}`);
    out.push(`would submit: ${(s.wouldSubmit ?? []).join(" ")}`);
  } else {
    const sent = s.uploads.filter((u) => !u.skipped).length;
    out.push(`uploads: ${sent} sent, ${s.uploads.length - sent} already there (verified)`);
    if (s.receipt) {
      out.push(
        `receipt: signed by the node; job ${s.receipt.job}, exit ${s.receipt.exit_code}, ` +
          `${s.receipt.started_at} .. ${s.receipt.ended_at}`,
      );
    }
    if (s.outputs) out.push(`outputs: ${s.outputs}`);
  }
  for (const w of s.warnings ?? []) out.push(`warning: ${w}`);
  return out.join("\n");
}

function cohortTable(rows: CohortRow[], outcomeText: OutcomeText): string {
  const lines = [
    ["input", "job", "slurm", "result", "outputs"],
    ...rows.map((r) => [
      r.input.slice(r.input.lastIndexOf("/") + 1),
      r.job,
      r.summary?.slurmJob ?? "-",
      r.error ? `error: ${oneLine(reason(r.error)).slice(0, 80)}` : outcomeText(r.summary!),
      r.summary?.outputs ?? "-",
    ]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** The Vault client of a profile, with the token from where the profile says. */
export async function vaultClientFor(profile: SiteProfile, dryRun: boolean): Promise<VaultClient> {
  if (profile.vault.tunnel) {
    throw usageError(`site ${q(profile.name)}: vault.tunnel is not supported by sealbatch run`, {
      hint: "reach Vault directly (vault.addr) or forward it yourself (ssh -L)",
    });
  }
  const settings = {
    addr: profile.vault.addr,
    ...(profile.vault.caCert ? { caCert: profile.vault.caCert } : {}),
    ...(profile.vault.namespace ? { namespace: profile.vault.namespace } : {}),
  };
  const { VaultClient } = await import("../kms/vault_client.ts");
  const { tokenFrom } = await import("../config/vault_token.ts");
  // A dry run escrows nothing, so it needs no token.
  const source = profile.vault.tokenSource;
  const token = dryRun ? await tokenFrom(source).catch(() => undefined) : await tokenFrom(source);
  return await VaultClient.connect(settings, token).catch((err) => {
    throw forSiteBuild(err, profile);
  });
}

export function runCommand() {
  return new Command("run")
    .description(
      "run a job spec end to end: seal the input, prepare the output, check the image, escrow\n" +
        "the keys, seal run.sh, upload (verified), submit, wait, fetch, verify the node's receipt,\n" +
        "open the results, revoke the keys. Interrupted runs continue where they stopped.",
    )
    .argument("<job.yaml>", "the job spec")
    .option(
      "--site <name|file>",
      "site profile (name in the config dir, or a YAML file; default: SEALBATCH_SITE or 'site use')",
    )
    .option("--dry-run", "do the local steps and the remote checks; change nothing remote")
    .option("--each <glob>", "one job per matching input directory (quote the pattern)")
    .option(
      "--concurrency <n>",
      "cohort jobs sealing at once (4x as many escrow, upload, submit)",
      "4",
    )
    .option("--sign-key <file>", "your OpenPGP secret key (default: sign_key in the profile)")
    .option("--passphrase-file <file>", "passphrase of the secret key (first line, mode 0600)")
    .option("--new", "start a new job even if an unfinished one of this spec exists")
    .addHelpText(
      "after",
      `
State: .sealbatch/jobs/<JOB>/ beside the spec (0700). Running the same spec again resumes the
newest unfinished job: finished steps are skipped, verified uploads are not
sent again, a submitted job is waited for. Ctrl-C before submission revokes
the credentials that run created. A failed job shows its stderr (from inside
the results container) and exits with code 8.

Examples:
  sealbatch run job.yaml --site gwdg
  sealbatch run job.yaml --site ./site.yaml --dry-run
  sealbatch run job.yaml --site gwdg --each 'inputs/*' --concurrency 8
  sealbatch job list`,
    )
    .action(async (specPath, opts: RunFlags) => {
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw usageError(`--concurrency: expected 1-64, got ${q(opts.concurrency)}`);
      }
      if (opts.new && opts.each) throw usageError("--new and --each exclude each other");
      const siteArg = opts.site ?? (await defaultSite())?.site;
      if (siteArg === undefined) {
        throw usageError("no site given: use --site NAME or --site FILE", {
          hint: "or set a default: sealbatch site use NAME (or SEALBATCH_SITE=NAME)",
        });
      }
      const { loadJobSpec } = await import("../config/job_spec.ts");
      const { loadSiteProfile } = await import("../config/site.ts");
      const { matchDirectories, runCohort } = await import("../run/cohort.ts");
      const { jobDir, newJobId, resumableJobs, stateDirForSpec } = await import(
        "../run/project.ts"
      );
      const {
        checkKeys,
        checkLocal,
        jobFailure,
        noInput,
        outcomeText,
        rememberPassphrases,
        runJob,
      } = await import("../run/run.ts");
      const { SiteBackend } = await import("../run/site_backend.ts");
      const spec: JobSpec = await loadJobSpec(absolute(specPath));
      const profile = await loadSiteProfile(await siteProfilePath(siteArg));
      const signKey = opts.signKey ?? profile.signKey;
      if (!signKey) {
        throw usageError("no signing key: give --sign-key FILE or sign_key in the site profile");
      }
      const inputs = opts.each ? await matchDirectories(opts.each) : undefined;
      if (inputs && spec.input.kind === "container") {
        throw usageError("--each replaces the spec's input directory; this spec has a container");
      }
      if (!inputs && spec.input.kind === "none") throw noInput(spec);
      const dryRun = Boolean(opts.dryRun);
      // Beside the spec, wherever it is run from (src/run/project.ts).
      const stateRoot = await stateDirForSpec(spec.path);
      const job = inputs
        ? undefined
        : (opts.new ? undefined : (await resumableJobs(stateRoot, spec.path)).get(
          spec.input.kind === "none" ? "" : spec.input.path,
        )) ??
          newJobId(spec.name);
      const passphrase = rememberPassphrases(passphraseSource(opts.passphraseFile));
      // Everything local first: no Vault or site call for a run that cannot sign its job.
      const keys = { signKey, passphrase, nodePublicKey: profile.node.publicKey };
      if (job) await checkLocal({ spec, ...keys, stateDir: jobDir(stateRoot, job) });
      else await checkKeys(keys);
      const vault = await vaultClientFor(profile, dryRun);
      try {
        const identity = profile.ssh.identity;
        await using backend = await SiteBackend.connect(profile, {
          ...(identity
            ? {
              passphrase: () => passphraseSource(undefined)(`SSH identity ${identity}`),
            }
            : {}),
        }).catch((err) => {
          throw forSiteBuild(err, profile);
        });
        const common = {
          site: profile,
          backend,
          vault,
          dryRun,
          signKey,
          passphrase,
          nodePublicKey: profile.node.publicKey,
          nodeCommand: profile.node.command,
        };
        if (inputs) {
          note(`cohort: ${inputs.length} jobs on ${backend.label}`);
          const rows = await runCohort({
            ...common,
            spec,
            inputs,
            stateRoot,
            concurrency,
            onEvent: cohortReporter(),
          });
          result(
            cohortTable(rows, outcomeText),
            rows.map((r) => ({ ...r, error: r.error && reason(r.error) })),
          );
          const bad = rows.filter((r) => r.error || (r.summary && jobFailure(r.summary)));
          // A dry run's site checks are the same for every job: its error stands for all.
          const preflight = dryRun && bad[0]?.summary ? jobFailure(bad[0].summary) : undefined;
          if (preflight) throw preflight;
          if (bad.length > 0) {
            throw new SealbatchError("job", `${bad.length} of ${rows.length} jobs did not succeed`);
          }
          return;
        }
        note(
          `job ${job!} on ${backend.label}${dryRun ? " (dry run)" : ""}; state in ${stateRoot}`,
        );
        const summary = await runJob({
          ...common,
          spec,
          stateDir: jobDir(stateRoot, job!),
          jobId: job!,
          onEvent: jobReporter(),
        });
        result(summaryText(summary, outcomeText), summary);
        const err = jobFailure(summary);
        if (err) {
          if (summary.node && summary.node.lines.length > 0 && !jsonMode()) {
            note(dim(`--- progress of job ${summary.job} on the node (its Slurm log) ---`));
            for (const line of summary.node.lines) {
              note(line);
            }
          }
          if (summary.stderr !== undefined && !jsonMode()) {
            note(red(`--- stderr of job ${summary.job} (decrypted from its results) ---`));
            note(forDisplay(summary.stderr.trimEnd()));
            note(red("--- end of stderr ---"));
          }
          throw err;
        }
      } finally {
        vault.close();
      }
    });
}
