/**
 * Slurm tests run against the real one-node cluster of scripts/test-site.sh,
 * over SSH as the site's unprivileged user, in a scratch directory of their own.
 * Every batch script is signed by that user, as the site's Prolog requires of
 * every job of the secure partition.
 */
import { readPrivateKeyFile } from "../../src/pgp/keys.ts";
import { signDetached } from "../../src/pgp/sign.ts";
import { RemoteSite } from "../../src/remote/connection.ts";
import { joinRemote, sh } from "../../src/remote/quote.ts";
import { type Shell, sshShell } from "../../src/slurm/shell.ts";
import { connection, scratchName, type SiteEnv, siteEnv, slurmSettings } from "../remote/_site.ts";
import type { SlurmSettings } from "../../src/slurm/slurm.ts";

export { SITE_SKIP } from "../remote/_site.ts";

export interface SlurmSite extends AsyncDisposable {
  env: SiteEnv;
  site: RemoteSite;
  shell: Shell;
  slurm: SlurmSettings;
  /** Remote scratch directory of this test (removed on dispose). */
  dir: string;
  /** Write an executable batch script and its signature (`.sig`) into the scratch directory; returns its path. */
  script(name: string, body: string): Promise<string>;
  /** Text of a remote file. */
  read(path: string): Promise<string>;
}

/** `env`: another site's (the multi-node site, say); default the checkout's one-node site. */
export async function slurmSite(prefix: string, given?: SiteEnv): Promise<SlurmSite> {
  const env = given ?? await siteEnv();
  const site = await RemoteSite.connect(connection(env));
  const shell = sshShell(site.login);
  const dir = joinRemote(env.SITE_REMOTE_DIR!, "slurm-tests", scratchName(prefix));
  const mk = await shell.run(`mkdir -p -- ${sh(dir)}`);
  if (mk.code !== 0) throw new Error(`cannot create ${dir}: ${mk.stderr}`);
  const key = await readPrivateKeyFile(env.SITE_USER_SECKEY!, "the site user's key");
  return {
    env,
    site,
    shell,
    slurm: slurmSettings(),
    dir,
    async script(name, body) {
      const path = joinRemote(dir, name);
      const r = await shell.run(
        `printf '%s\\n' ${sh("#!/bin/bash")} ${sh(body)} > ${sh(path)} && chmod 700 ${sh(path)}`,
      );
      if (r.code !== 0) throw new Error(`cannot write ${path}: ${r.stderr}`);
      const text = `#!/bin/bash\n${body}\n`;
      const sig = await signDetached(new TextEncoder().encode(text), key, "the site user's key");
      const b64 = btoa(String.fromCharCode(...sig));
      const s = await shell.run(`printf '%s' ${sh(b64)} | base64 -d > ${sh(`${path}.sig`)}`);
      if (s.code !== 0) throw new Error(`cannot write ${path}.sig: ${s.stderr}`);
      return path;
    },
    async read(path) {
      const r = await shell.run(`cat -- ${sh(path)}`);
      if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr}`);
      return r.stdout;
    },
    async [Symbol.asyncDispose]() {
      await shell.run(`rm -rf -- ${sh(dir)}`).catch(() => {});
      site.close();
    },
  };
}
