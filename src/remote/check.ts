/**
 * `remote check`: one line per check (host key, login, sbatch, partition,
 * free space), each with what to do when it fails. Stops at the first check
 * the others depend on (no connection, no login).
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
}

export async function checkSite(
  settings: SiteConnection,
  slurm: SlurmSettings,
): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  let site: RemoteSite;
  try {
    site = await RemoteSite.connect(settings);
  } catch (err) {
    const text = reason(err);
    const hostKey = /host key/.test(text);
    const known = err instanceof SealbatchError ? err : undefined;
    lines.push({
      check: hostKey ? "host key" : "login",
      ok: false,
      detail: text,
      hint: known?.hint ??
        `check the host name and port, and that \`ssh -p ${settings.login.port} ${
          endpointLabel({ ...settings.login, port: 22 })
        }\` works from here`,
      kind: known?.kind ?? "remote",
    });
    return lines;
  }
  try {
    for (const k of site.login.accepted) {
      lines.push({
        check: "host key",
        ok: true,
        detail: `${endpointLabel(k.endpoint)} ${k.keyType} ${
          fingerprintOf(Buffer.from(k.keyBase64, "base64"))
        }`,
      });
    }
    const shell = sshShell(site.login);
    const who = await site.login.exec("id -un");
    lines.push({
      check: "login",
      ok: who.code === 0,
      detail: `logged in as ${who.stdout.trim() || "?"}`,
    });
    const sbatch = await findProgram(shell, slurm, "sbatch");
    lines.push(
      sbatch ? { check: "sbatch", ok: true, detail: sbatch } : {
        check: "sbatch",
        ok: false,
        detail: `${slurm.programs.sbatch ?? "sbatch"} not found on the login host`,
        hint:
          "give the Slurm programs' directory: --slurm-bin DIR or slurm.programs in the site profile",
      },
    );
    const part = await partitionVisible(shell, slurm);
    lines.push(
      part.visible ? { check: "partition", ok: true, detail: `${slurm.partition} exists` } : {
        check: "partition",
        ok: false,
        detail: `partition ${slurm.partition} not visible: Slurm says: ${part.said}`,
        hint: "ask the site for the secure partition's name",
      },
    );
    const df = await site.transfer.exec(
      `mkdir -p -- ${sh(settings.remoteDir)} && df -Pk -- ${sh(settings.remoteDir)} | tail -n 1`,
    );
    const free = Number(df.stdout.trim().split(/\s+/)[3] ?? NaN);
    lines.push(
      df.code === 0 && Number.isFinite(free)
        ? {
          check: "free space",
          ok: free > 1024 * 1024,
          detail: `${(free / 1048576).toFixed(1)} GiB free in ${settings.remoteDir}`,
          ...(free > 1024 * 1024 ? {} : {
            hint: "less than 1 GiB free: clean up, or choose another remote directory " +
              "(--remote-dir, remote.base_dir)",
          }),
        }
        : {
          check: "free space",
          ok: false,
          detail: `cannot use ${settings.remoteDir}: ${df.stderr.trim() || "df failed"}`,
          hint: "choose a directory you can write on the site (--remote-dir, remote.base_dir)",
        },
    );
  } finally {
    site.close();
  }
  return lines;
}
