/**
 * The site checks, one implementation for `remote check`, `site check` and
 * `run --dry-run`: one line per check (host key, login, sbatch, partition,
 * remote directory, node command), each with what to do when it fails and
 * the kind of error (exit code) it stands for. Read-only: nothing is created
 * on the site.
 */
import { type ErrorKind, reason, SealbatchError } from "../util/errors.ts";
import { sshShell } from "../slurm/shell.ts";
import { findProgram, partitionVisible, type SlurmSettings } from "../slurm/slurm.ts";
import { fingerprintOf } from "./known_hosts.ts";
import { RemoteSite } from "./connection.ts";
import { sh } from "./quote.ts";
import { endpointLabel, type SiteConnection } from "./settings.ts";
import { Buffer } from "node:buffer";

export interface CheckLine {
  check: string;
  ok: boolean;
  detail: string;
  hint?: string;
  /** For a failed check: the kind of error (exit code) it stands for. */
  kind?: ErrorKind;
  /** Passed, with something to look at (shown as WARN). */
  warning?: true;
}

export interface SiteCheckSettings {
  /** The remote base directory (it, or its nearest existing parent, must be writable). */
  remoteDir: string;
  slurm: SlurmSettings;
  /** The program the job runs on the node (profile's node.command[0]); not checked when absent. */
  nodeCommand?: string;
  /** Nodes a job asks for (the job's in a dry run, else the profile's slurm.defaults.nodes). */
  nodes?: number;
}

/**
 * Run one check into `lines`: its detail when `fn` succeeds; its reason, `hint` and what `failed`
 * adds (a better hint, the error kind) when it throws. True when it passed.
 */
export async function attemptCheck(
  lines: CheckLine[],
  check: string,
  hint: string,
  fn: () => Promise<string>,
  failed: (err: unknown) => Pick<CheckLine, "hint" | "kind"> = () => ({}),
): Promise<boolean> {
  try {
    lines.push({ check, ok: true, detail: await fn() });
    return true;
  } catch (err) {
    lines.push({ check, ok: false, detail: reason(err), hint, ...failed(err) });
    return false;
  }
}

/** Less than this free in the remote directory fails the check. */
const MIN_FREE_KIB = 1024 * 1024;

/** The checks over an open connection. */
export async function siteChecks(site: RemoteSite, s: SiteCheckSettings): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const line = (ok: boolean, check: string, detail: string, hint: string, kind?: ErrorKind) =>
    lines.push({ check, ok, detail, ...(ok ? {} : { hint, ...(kind ? { kind } : {}) }) });
  for (const k of site.login.accepted) {
    line(
      true,
      "host key",
      `${endpointLabel(k.endpoint)} ${k.keyType} ${
        fingerprintOf(Buffer.from(k.keyBase64, "base64"))
      }`,
      "",
    );
  }
  const shell = sshShell(site.login);
  const who = await site.login.exec("id -un");
  line(
    who.code === 0,
    "login",
    `logged in as ${who.stdout.trim() || "?"}`,
    "the login shell does not run commands: ask the site",
  );
  const sbatch = await findProgram(shell, s.slurm, "sbatch");
  line(
    sbatch !== undefined,
    "sbatch",
    sbatch ?? `${s.slurm.programs.sbatch ?? "sbatch"} not found on the login host`,
    "give the Slurm programs' directory: --slurm-bin DIR or slurm.programs in the site profile",
  );
  const part = await partitionVisible(shell, s.slurm);
  const wanted = s.nodes ?? 1;
  const n = part.nodes;
  const allowed = n ? Math.min(n.total, n.max === "UNLIMITED" ? Infinity : n.max) : 0;
  line(
    part.visible && wanted <= allowed,
    "partition",
    part.visible && n
      ? `${s.slurm.partition} exists: ${n.total} node(s), at most ${n.max} per job` +
        (wanted > allowed ? `; a job of ${wanted} nodes does not fit` : "")
      : `${s.slurm.partition} not visible: Slurm says: ${part.said}`,
    part.visible
      ? "lower resources.nodes (or slurm.defaults.nodes), or ask the site for a larger secure partition"
      : "ask the site for the secure partition's name (--partition, slurm.partition)",
  );
  // The base directory, or its nearest existing parent, must be writable: nothing is created.
  const df = await site.transfer.exec(
    `d=${sh(s.remoteDir)}; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done; ` +
      `[ -d "$d" ] && [ -w "$d" ] && df -Pk -- "$d" | tail -n 1`,
  );
  const free = Number(df.stdout.trim().split(/\s+/)[3] ?? NaN);
  const writable = df.code === 0 && Number.isFinite(free);
  line(
    writable && free >= MIN_FREE_KIB,
    "remote directory",
    writable
      ? `${s.remoteDir} writable, ${(free / 1048576).toFixed(1)} GiB free`
      : `${s.remoteDir} is not writable`,
    writable
      ? "less than 1 GiB free: clean up (sealbatch job clean --all-finished), or choose another " +
        "remote directory (--remote-dir, remote.base_dir)"
      : "choose a directory you can write on the site (--remote-dir, remote.base_dir)",
  );
  if (s.nodeCommand !== undefined) {
    const found = await site.login.exec(`command -v ${sh(s.nodeCommand)}`);
    line(
      found.code === 0,
      "node command",
      found.code === 0
        ? `${found.stdout.trim()} (on the login host)`
        : `${s.nodeCommand} not found on the login host`,
      "the secure nodes need it; set node.command in the site profile",
    );
  }
  return lines;
}

/** The line for a connection that could not be made (host key or login). */
export function connectFailure(err: unknown, settings: SiteConnection): CheckLine {
  const text = reason(err);
  const known = err instanceof SealbatchError ? err : undefined;
  return {
    check: /host key/.test(text) ? "host key" : "login",
    ok: false,
    detail: text,
    hint: known?.hint ??
      `check the host name and port, and that \`ssh -p ${settings.login.port} ${
        endpointLabel({ ...settings.login, port: 22 })
      }\` works from here`,
    kind: known?.kind ?? "remote",
  };
}

/** `remote check`: connect, then the checks; stops when there is no connection. */
export async function checkSite(
  settings: SiteConnection,
  s: Omit<SiteCheckSettings, "remoteDir">,
): Promise<CheckLine[]> {
  let site: RemoteSite;
  try {
    site = await RemoteSite.connect(settings);
  } catch (err) {
    return [connectFailure(err, settings)];
  }
  try {
    return await siteChecks(site, { ...s, remoteDir: settings.remoteDir });
  } finally {
    site.close();
  }
}

/** The error a list with failed checks stands for: the first failure's kind, else remote (6). */
export function checksFailed(lines: CheckLine[], what = "site check"): SealbatchError | undefined {
  const failed = lines.filter((l) => !l.ok);
  if (failed.length === 0) return undefined;
  return new SealbatchError(
    failed[0]!.kind ?? "remote",
    `${what}: ${failed.length} of ${lines.length} checks failed: ${
      failed.map((l) => l.check).join(", ")
    }`,
    { hint: "fix them in order: later checks depend on earlier ones" },
  );
}
