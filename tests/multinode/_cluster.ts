/**
 * The multi-node test cluster (SEALBATCH_SITE_NODES=3 scripts/test-site.sh): three slurmd, each in
 * its own network, UTS and mount namespace, reached over SSH through the site's loopback forwarder.
 */
import { type SiteEnv, siteEnv } from "../remote/_site.ts";
import { type SlurmSite, slurmSite } from "../slurm/_slurm.ts";

export { SITE_SKIP } from "../remote/_site.ts";

export const CLUSTER_NODES = 3;

export async function cluster(prefix: string): Promise<SlurmSite> {
  return await slurmSite(prefix, await siteEnv(CLUSTER_NODES));
}

/** The node names of the cluster, in Slurm's order. */
export function nodeNames(env: SiteEnv): string[] {
  return env.SITE_NODE_LIST!.split(" ").filter((n) => n !== "");
}

/** Run a program in node I's namespaces (network, mount, UTS), as root, as the node sees it. */
export async function onNode(
  env: SiteEnv,
  index: number,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const pid = env.SITE_NODE_PIDS!.trim().split(" ")[index];
  if (pid === undefined) throw new Error(`no node ${index} in ${env.SITE_NODE_PIDS}`);
  const out = await new Deno.Command("nsenter", {
    args: ["-t", pid, "-n", "-m", "-u", "--", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * What a job left in every node's work directory (node-local, seen only in the node's own mount
 * namespace), and whether the site's Epilog had to remove anything of Slurm job `id`: the node
 * side must have wiped all of it itself. What other jobs running by now keep is theirs.
 */
export async function leftOnNodes(env: SiteEnv, id: string): Promise<string[]> {
  const left: string[] = [];
  const nodes = env.SITE_NODE_PIDS!.trim().split(" ").length;
  for (let i = 0; i < nodes; i++) {
    const found = await onNode(env, i, ["find", env.SITE_WORK_DIR!, "-mindepth", "1"]);
    if (found.code !== 0) throw new Error(`find on node ${i} failed: ${found.stderr}`);
    // Another job running on the cluster by now has a directory named by its own Slurm id.
    const others = new RegExp(
      `^${env.SITE_WORK_DIR}/sealbatch-job-(?!${id}\\.)\\d+\\.node-\\d+(/|$)`,
    );
    left.push(
      ...found.stdout.split("\n").filter((l) => l !== "" && !others.test(l))
        .map((l) => `node ${i}: ${l}`),
    );
  }
  const epilog = await Deno.readTextFile(`${env.SITE_LOG_DIR}/epilog.log`).catch(() => "");
  left.push(...epilog.split("\n").filter((l) => l.includes(` job ${id} `)));
  return left;
}
