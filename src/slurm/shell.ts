/**
 * Where Slurm commands run: over the site's SSH connection, or on this
 * machine (when sealbatch itself runs on a login node). Both take one shell
 * command string built only with src/remote/quote.ts.
 */
import { exec } from "../util/exec.ts";
import type { RemoteHost, RemoteResult } from "../remote/connection.ts";

export interface Shell {
  run(command: string): Promise<RemoteResult>;
  /** For messages: where the command ran. */
  readonly where: string;
}

export function sshShell(host: RemoteHost): Shell {
  return {
    where: `${host.endpoint.user}@${host.endpoint.host}`,
    run: (command) => host.exec(command),
  };
}

export function localShell(): Shell {
  return {
    where: "this machine",
    async run(command) {
      const r = await exec("bash", ["-c", command], {
        okCodes: Array.from({ length: 256 }, (_, i) => i),
      });
      return { code: r.code, stdout: r.text, stderr: r.stderr };
    },
  };
}
