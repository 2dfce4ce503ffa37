/** A job sealed with `job seal` for the test site's node, as the e2e tests submit it. */
import assert from "node:assert/strict";
import { runCli } from "../_helpers/cli.ts";
import type { SiteEnv } from "../remote/_site.ts";

export interface Job {
  name: string;
  dir: string;
  marker: string;
}

/** A command script that writes into the job directory and never prints its own text. */
export async function sealJob(
  env: SiteEnv,
  tmp: string,
  signKey: string,
  prefix: string,
): Promise<Job> {
  const marker = `never-in-the-log-${crypto.randomUUID().slice(0, 8)}`;
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const command = `${tmp}/${name}.sh`;
  await Deno.writeTextFile(
    command,
    `#!/bin/bash\n# ${marker}\nset -e\nmkdir -p output\necho hello-from-node > output/hello.txt\n` +
      `id -un > output/whoami.txt\n`,
  );
  const dir = `${tmp}/${name}`;
  const sealed = await runCli([
    "job",
    "seal",
    "--command",
    command,
    "--node-key",
    env.SITE_NODE_PUBKEY!,
    "--sign-key",
    signKey,
    "--user",
    env.SITE_USER!,
    "--expires",
    "1h",
    "--out",
    dir,
  ]);
  assert.equal(sealed.code, 0, sealed.stderr);
  return { name, dir, marker };
}
