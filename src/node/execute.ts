/**
 * Run the decrypted script with bash as the job user, output streamed, from a
 * 0700 private directory on node-local memory-backed storage (or work_dir).
 */
import { exec } from "../util/exec.ts";
import { writeSecretFile } from "../util/secret_file.ts";
import type { PrivateDir } from "../util/secret_file.ts";
import type { Account } from "./account.ts";

export interface ExecuteInput {
  payload: Uint8Array;
  account: Account;
  /** Working directory of the script: the directory of run.sh. */
  cwd: string;
  /** 0700 private directory for the script; the caller removes it. */
  dir: PrivateDir;
  /** Extra variables for the script (Slurm ids, Vault address, ...). */
  env: Record<string, string>;
}

const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

/** Returns the script's exit status. */
export async function executeScript(input: ExecuteInput): Promise<number> {
  const { account, dir } = input;
  const dropPrivileges = Deno.uid() === 0 && account.uid !== 0;
  const script = `${dir.path}/command.sh`;
  await writeSecretFile(script, input.payload);
  if (dropPrivileges) {
    await Deno.chown(dir.path, account.uid, account.gid);
    await Deno.chown(script, account.uid, account.gid);
  }
  const env = {
    ...input.env,
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
    SEALBATCH_WORK_DIR: dir.path,
  };
  const [program, args] = dropPrivileges
    ? [
      "setpriv",
      [
        `--reuid=${account.uid}`,
        `--regid=${account.gid}`,
        "--init-groups",
        "--",
        "bash",
        script,
      ],
    ] as const
    : ["bash", [script]] as const;
  const out = await exec(program, [...args], {
    cwd: input.cwd,
    env,
    inherit: "both",
    okCodes: ANY_EXIT,
    what: "running the job",
    kind: "job",
  });
  return out.code;
}
