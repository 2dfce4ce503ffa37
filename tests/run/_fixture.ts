/**
 * A project for `sealbatch run` against the real local test site (sshd +
 * Slurm + the node side, scripts/test-site.sh) and the Vault-compatible
 * development server (the project's Vault stand-in, plain HTTP on loopback so
 * the node reaches it without a CA). The input is the project's Shepp-Logan
 * k-space sample; the job is the tutorial's `bart fft -u -i 3`.
 */
import { type DevServer, startDevServer } from "../../src/kms/dev_server.ts";
import { VaultClient } from "../../src/kms/vault_client.ts";
import { writeSheppLoganSample } from "../../src/sample/shepp_logan.ts";
import { exec, hasProgram } from "../../src/util/exec.ts";
import { CLI_ARGS, type CliResult, tempDir } from "../_helpers/cli.ts";
import { SITE_SKIP, type SiteEnv, siteEnv } from "../remote/_site.ts";

export const BART_COMMAND = "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft";

/** Why the end-to-end tests cannot run here, or false. */
export const E2E_SKIP: string | false = SITE_SKIP ||
  (!(await hasProgram("bart")) && "bart is not installed");

export interface Project {
  dir: string;
  spec: string;
  profile: string;
  site: SiteEnv;
  /** The Vault stand-in this project uses (its own, or the multi-node site's, which nodes reach). */
  vault: { addr: string };
  env: Record<string, string>;
  /** A root client of the Vault stand-in. */
  client(): Promise<VaultClient>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ProjectOptions {
  command?: string;
  /** Extra lines for the job spec. */
  specExtra?: string;
  /** Input directories to create (name -> files); default one "input" with the sample. */
  inputs?: string[];
  /** Nodes of the test site's cluster (default 1; 3: the multi-node cluster). */
  nodes?: number;
}

export async function makeProject(opts: ProjectOptions = {}): Promise<Project> {
  const site = await siteEnv(opts.nodes);
  const tmp = await tempDir("sealbatch-run");
  const dir = tmp.path;
  // The nodes of the multi-node cluster reach only the site's own Vault stand-in (forwarded into
  // their namespaces); a one-node site's node shares the tests' loopback.
  const own: DevServer | undefined = opts.nodes !== undefined && opts.nodes > 1
    ? undefined
    : await startDevServer({ hostname: "127.0.0.1", port: 0, rootToken: "root-run" });
  const vault = own ?? { addr: site.SITE_VAULT_ADDR! };
  const token = own ? "root-run" : (await Deno.readTextFile(site.SITE_VAULT_TOKEN_FILE!)).trim();
  const clients: VaultClient[] = [];
  for (const name of opts.inputs ?? ["input"]) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    await writeSheppLoganSample(`${dir}/${name}`);
  }
  const spec = `${dir}/job.yaml`;
  await Deno.writeTextFile(
    spec,
    `name: bart-fft
input: input
command: ${JSON.stringify(opts.command ?? BART_COMMAND)}
outputs: results
resources:
  time: "00:10:00"
${opts.specExtra ?? ""}`,
  );
  const profile = `${dir}/site.yaml`;
  await Deno.writeTextFile(
    profile,
    `name: testsite
sign_key: ${site.SITE_USER_SECKEY}
ssh:
  login: { host: ${site.SITE_HOST}, port: ${site.SITE_PORT} }
  user: ${site.SITE_USER}
  identity: ${site.SITE_IDENTITY}
  known_hosts: ${site.SITE_KNOWN_HOSTS}
remote:
  base_dir: ${site.SITE_REMOTE_DIR}
vault:
  addr: ${vault.addr}
  wrap_ttl: 1h
node:
  public_key: ${site.SITE_NODE_PUBKEY}
  command: [${site.SITE_SEALBATCH}]
slurm:
  partition: secure
  exclusive: true
`,
  );
  return {
    dir,
    spec,
    profile,
    site,
    vault,
    env: { VAULT_TOKEN: token },
    client: async () => {
      const c = await VaultClient.connect({ addr: vault.addr }, token);
      clients.push(c);
      return c;
    },
    [Symbol.asyncDispose]: async () => {
      for (const c of clients) c.close();
      await own?.shutdown();
      await tmp[Symbol.asyncDispose]();
    },
  };
}

/** `deno run -P=sealbatch main.ts ...` in the project, streaming stderr to `onLine`. */
export async function runIn(
  project: Project,
  args: string[],
  onLine?: (line: string, child: Deno.ChildProcess) => void,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      ...args,
    ],
    cwd: project.dir,
    env: { NO_COLOR: "1", ...project.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    const text = decoder.decode(chunk, { stream: true });
    stderr += text;
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine?.(buffered.slice(0, nl), child);
      buffered = buffered.slice(nl + 1);
    }
  }
  const status = await child.status;
  return { code: status.code, stdout: await stdout, stderr };
}

/** A command as the site user, over the site's sshd (what anybody on the shared side sees). */
export async function remote(site: SiteEnv, command: string): Promise<string> {
  const r = await exec("ssh", [
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    `UserKnownHostsFile=${site.SITE_KNOWN_HOSTS}`,
    "-i",
    site.SITE_IDENTITY!,
    "-p",
    site.SITE_PORT!,
    `${site.SITE_USER}@${site.SITE_HOST}`,
    command,
  ], { okCodes: [0, 1] });
  return r.text;
}

/** bart run directly on the sample: the reference outputs. */
export async function bartReference(dir: string): Promise<{ cfl: Uint8Array; hdr: string }> {
  await Deno.mkdir(`${dir}/ref`, { recursive: true });
  await writeSheppLoganSample(`${dir}/ref`);
  await exec("bart", ["fft", "-u", "-i", "3", `${dir}/ref/shepp_logan`, `${dir}/ref/output_fft`]);
  return {
    cfl: await Deno.readFile(`${dir}/ref/output_fft.cfl`),
    hdr: await Deno.readTextFile(`${dir}/ref/output_fft.hdr`),
  };
}

/** The job id `sealbatch run` printed ("job NAME-xxxxxxxx on ..."). */
export function jobIdOf(stderr: string): string {
  const m = /^job (\S+) on /m.exec(stderr);
  if (!m) throw new Error(`no job id in:\n${stderr}`);
  return m[1]!;
}
