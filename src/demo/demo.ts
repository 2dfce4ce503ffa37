/**
 * `sealbatch demo`: the reference tutorial end to end on this machine, with
 * no HPC account and no root. Everything the tutorial needs from a site is
 * stood in for by something local that behaves the same way:
 *
 *   the site's Vault        -> the development server, in this process, on loopback
 *   the shared file system  -> DIR/shared (the local executor's job directories)
 *   Slurm + the secure node -> `node decrypt-and-execute` run by the local executor
 *                              with a node of its own (DIR/node: key, signers, state)
 *
 * The job itself goes through the real `sealbatch run` pipeline (runJob).
 * With `site`, the same happens against a real site profile instead of the
 * local executor (the dev Vault then listens on the profile's loopback host).
 */
import { loadJobSpec } from "../config/job_spec.ts";
import { loadSiteProfile } from "../config/site.ts";
import type { SiteProfile } from "../config/site.ts";
import { startDevServer } from "../kms/dev_server.ts";
import type { DevServer } from "../kms/dev_server.ts";
import { VaultClient } from "../kms/vault_client.ts";
import { writeKeyPair } from "../pgp/keygen.ts";
import { LocalBackend } from "../run/local_backend.ts";
import { prepareLocalNode } from "../run/local_node.ts";
import type { LocalNode } from "../run/local_node.ts";
import { SiteBackend } from "../run/site_backend.ts";
import type { Backend } from "../run/backend.ts";
import { runJob } from "../run/run.ts";
import { jobDir, newJobId, projectStateDir } from "../run/project.ts";
import type { RunEvent, RunSummary } from "../run/run.ts";
import { writeSheppLoganSample } from "../sample/shepp_logan.ts";
import { viewCfl } from "../view/view.ts";
import { inputError, q, reason, SealbatchError } from "../util/errors.ts";
import { exec, hasProgram } from "../util/exec.ts";
import { exists, readTextCapped, writeFileAtomic } from "../util/files.ts";
import { selfCommand } from "../util/self.ts";
import { localUser } from "../util/user.ts";

/** Marks a directory as made by the demo, so a second demo may reuse it. */
export const DEMO_MARKER = ".sealbatch-demo";
/** What a demo creates in its directory; a rerun removes exactly these. */
const DEMO_ENTRIES = ["you", "node", "shared", "project", "reconstruction.png", "kspace.png"];

/** The tutorial's job (BART 0.8): the inverse FFT that reconstructs the phantom. */
export const BART_COMMAND = "bart fft -u -i 3 {input}/shepp_logan {output}/output_fft";
/** Without bart: a job that returns the k-space itself, so the pipeline still runs whole. */
export const FALLBACK_COMMAND = "cp {input}/shepp_logan.cfl {input}/shepp_logan.hdr {output}/";

export interface DemoSite {
  /** Site profile file. */
  profile: string;
  /** The user's secret key registered on the site's node (default: the profile's sign_key). */
  signKey?: string;
}

export interface DemoInput {
  dir: string;
  /** Run against a real site instead of the local executor. */
  site?: DemoSite;
  /** Steps of the run pipeline, as they happen. */
  onRunEvent?: (e: RunEvent) => void;
  /** Demo steps, as they finish. */
  onStep?: (s: DemoStep) => void;
  /** Said before any work: why the fallback job runs instead of the tutorial's. */
  onNotice?: (text: string) => void;
}

export interface DemoStep {
  name: string;
  /** What protected the data or keys in this step. */
  protection: string;
  ms: number;
}

export interface DemoResult {
  dir: string;
  job: string;
  /** Where the job ran: "local executor" or the site's label. */
  where: string;
  /** False when bart is missing and the fallback job ran. */
  bart: boolean;
  /** Why the fallback job ran instead of the tutorial's. */
  notice?: string;
  steps: DemoStep[];
  totalMs: number;
  png: string;
  /** The job's results, opened on this machine. */
  outputs: string;
  /** The stand-in shared file system (local executor only). */
  shared?: string;
  run: RunSummary;
}

/** The node's error lines in the local executor's log (its only text is progress and errors). */
async function nodeErrors(jobDir: string, id: string): Promise<string> {
  const log = await readTextCapped(`${jobDir}/slurm-${id}.out`, 1024 * 1024, "job log")
    .catch(() => "");
  return log.split("\n").filter((l) => l.startsWith("sealbatch: error:")).join("\n");
}

/** An empty or new directory, or an earlier demo's (its entries are removed). */
async function prepareDir(dir: string): Promise<void> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (info && !info.isDirectory) {
    throw inputError(`cannot use ${q(dir)} for the demo: it is not a directory`);
  }
  if (info) {
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
    if (entries.length > 0) {
      if (!entries.includes(DEMO_MARKER)) {
        throw inputError(`cannot use ${q(dir)} for the demo: it is not empty`, {
          hint: "give a new or empty directory with --dir (an earlier demo's directory is reused)",
        });
      }
      for (const name of DEMO_ENTRIES) {
        await Deno.remove(`${dir}/${name}`, { recursive: true }).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        });
      }
    }
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  if (!(await exists(`${dir}/${DEMO_MARKER}`))) {
    await writeFileAtomic(
      `${dir}/${DEMO_MARKER}`,
      "Made by 'sealbatch demo'; a later demo may empty this directory.\n",
    );
  }
}

/**
 * The dev Vault, on a free loopback port. With a site, on the loopback host
 * its profile names: the node reaches Vault at the address the job's
 * credentials carry (this server's), so the profile's port is not needed, and
 * a fixed one would clash with any Vault or test already listening there.
 */
export async function startVault(site: SiteProfile | undefined): Promise<DevServer> {
  let hostname = "127.0.0.1";
  if (site) {
    const url = new URL(site.vault.addr);
    hostname = url.hostname.replace(/^\[|\]$/g, "");
    if (!["127.0.0.1", "localhost", "::1"].includes(hostname) || url.protocol !== "http:") {
      throw inputError(
        `cannot run the demo against ${q(site.name)}: its Vault ${
          q(site.vault.addr)
        } is not a loopback http address`,
        { hint: "the demo serves its own development Vault; use a local test site profile" },
      );
    }
  }
  try {
    return await startDevServer({ hostname, port: 0 });
  } catch (err) {
    throw new SealbatchError(
      "kms",
      `cannot start the demo's Vault on ${hostname}: ${reason(err)}`,
    );
  }
}

/** A token that may only create, read and delete below the user's own escrow prefix. */
export async function userVaultClient(server: DevServer, user: string, mount: string) {
  const root = await VaultClient.connect({ addr: server.addr }, server.rootToken);
  try {
    await root.request("POST", `sys/policies/acl/sealbatch-${user}`, {
      what: "write the demo user's policy",
      body: {
        policy: `path "${mount}/data/sealbatch/${user}/*" { capabilities = ["create", "read"] }
path "${mount}/metadata/sealbatch/${user}/*" { capabilities = ["delete"] }`,
      },
    });
    const token = await root.tokenCreate({ policies: [`sealbatch-${user}`], ttl: "2h" });
    return { client: root.withToken(token.client_token), root };
  } catch (err) {
    root.close();
    throw err;
  }
}

/** The secret key for `--site`: the flag, then the profile's sign_key. */
function siteSignKey(site: DemoSite, profile: SiteProfile): string {
  const key = site.signKey ?? profile.signKey;
  if (key === undefined) {
    throw inputError(`cannot run the demo on ${q(profile.name)}: no signing key`, {
      hint:
        "give --sign-key FILE (your key registered on the site's node) or sign_key in the profile",
    });
  }
  return key;
}

function jobSpecText(command: string): string {
  return [
    "# The reference tutorial's job, as a sealbatch job spec (written by 'sealbatch demo').",
    "name: shepp-logan",
    "input: input",
    `command: ${JSON.stringify(command)}`,
    "outputs: results",
    "resources:",
    '  time: "00:10:00"',
    "",
  ].join("\n");
}

export async function runDemo(input: DemoInput): Promise<DemoResult> {
  const t0 = performance.now();
  const dir = (input.dir.startsWith("/") ? input.dir : `${Deno.cwd()}/${input.dir}`)
    .replace(/\/(\.\/)+/g, "/").replace(/\/+$/, "") || "/";
  const steps: DemoStep[] = [];
  const timed = async <T>(name: string, protection: string, fn: () => Promise<T>) => {
    const start = performance.now();
    const value = await fn();
    const s = { name, protection, ms: performance.now() - start };
    steps.push(s);
    input.onStep?.(s);
    return value;
  };

  // Everything that can be refused is checked before anything is created.
  const profile = input.site ? await loadSiteProfile(input.site.profile) : undefined;
  const signKeyOfSite = input.site && profile ? siteSignKey(input.site, profile) : undefined;
  if (signKeyOfSite !== undefined && !(await exists(signKeyOfSite))) {
    throw inputError(`cannot read signing key ${q(signKeyOfSite)}: no such file`);
  }
  const bart = await hasProgram("bart");
  const notice = bart ? undefined : "bart is not installed, so the job copies the k-space " +
    "instead of reconstructing it (the PNG shows k-space, log scale); install bart " +
    "(Debian: apt-get install bart) for the tutorial's job";
  if (notice) input.onNotice?.(notice);
  const user = profile?.ssh.user ?? localUser();
  const mount = profile?.vault.mount ?? "secret";

  await timed("workspace", "demo directory 0700 on this machine", () => prepareDir(dir));
  const project = `${dir}/project`;
  const shared = profile ? undefined : `${dir}/shared`;

  const server = await timed(
    "vault",
    `dev Vault in this process, loopback only; your token: ${mount}/sealbatch/${user}/* only`,
    () => startVault(profile),
  );
  let backend: Backend | undefined;
  let node: LocalNode | undefined;
  let vault: Awaited<ReturnType<typeof userVaultClient>> | undefined;
  try {
    vault = await userVaultClient(server, user, mount);
    const keys = await timed(
      "keys",
      profile
        ? "your registered key signs the job; the site's node key decrypts it"
        : "OpenPGP keys: yours signs the job, the node's decrypts it; secret keys 0600",
      async () => {
        if (profile) {
          return { signKey: signKeyOfSite!, nodePublicKey: profile.node.publicKey };
        }
        const you = await writeKeyPair({
          kind: "user",
          name: "you",
          email: `${user}@sealbatch-demo.localhost`,
          outDir: `${dir}/you`,
        });
        node = await prepareLocalNode({
          dir: `${dir}/node`,
          user,
          userPublicKey: you.publicKey,
          vaultAddr: server.addr,
        });
        await Deno.mkdir(shared!, { mode: 0o755 });
        backend = new LocalBackend({
          root: shared!,
          nodeConfig: node.config,
          nodeCommand: selfCommand(),
        });
        return { signKey: you.secretKey, nodePublicKey: node.publicKey };
      },
    );
    if (profile) backend = await SiteBackend.connect(profile);

    const spec = await timed(
      "sample",
      "Shepp-Logan k-space and job spec written to project/ (plaintext stays here)",
      async () => {
        await writeSheppLoganSample(`${project}/input`);
        await writeFileAtomic(
          `${project}/job.yaml`,
          jobSpecText(bart ? BART_COMMAND : FALLBACK_COMMAND),
        );
        return await loadJobSpec(`${project}/job.yaml`);
      },
    );

    const job = newJobId(spec.name);
    const run = await runJob({
      spec,
      site: profile,
      backend: backend!,
      vault: vault.client,
      stateDir: jobDir(projectStateDir(project), job),
      dryRun: false,
      signKey: keys.signKey,
      nodePublicKey: keys.nodePublicKey,
      nodeCommand: profile ? profile.node.command : selfCommand(),
      user,
      ...(input.onRunEvent ? { onEvent: input.onRunEvent } : {}),
    });
    steps.push(...run.steps.map((s) => ({ name: s.name, protection: s.protection, ms: s.ms })));
    if (run.exitCode !== 0 || run.outputs === undefined) {
      // The job's own stderr when it ran; else the node's errors from the (local) Slurm log.
      const why = run.stderr ??
        (shared && run.slurmJob ? await nodeErrors(backend!.jobDir(job), run.slurmJob) : "");
      throw new SealbatchError(
        "job",
        `the demo job ${q(job)} failed (${run.state ?? "no state"}, exit ${run.exitCode ?? "?"})${
          why.trim() ? `: ${why.trim().split("\n").slice(-3).join("; ")}` : ""
        }`,
        { hint: `the job's files are in ${q(backend!.jobDir(job))}` },
      );
    }

    const png = `${dir}/${bart ? "reconstruction" : "kspace"}.png`;
    await timed("view", "PNG made on this machine from the opened results", () =>
      viewCfl({
        input: `${run.outputs}/${bart ? "output_fft" : "shepp_logan"}`,
        out: png,
        log: !bart,
      }));
    return {
      dir,
      job,
      where: backend!.label,
      bart,
      ...(notice ? { notice } : {}),
      steps,
      totalMs: performance.now() - t0,
      png,
      outputs: run.outputs,
      ...(shared ? { shared } : {}),
      run,
    };
  } finally {
    await backend?.[Symbol.asyncDispose]();
    await node?.remove();
    vault?.client.close();
    vault?.root.close();
    await server.shutdown();
  }
}

/** `scripts/test-site.sh env` of this checkout: the local test site's profile and user key. */
export async function testSite(): Promise<DemoSite> {
  const script = new URL("../../scripts/test-site.sh", import.meta.url);
  if (script.protocol !== "file:" || !(await exists(script.pathname))) {
    throw inputError("'--site test' needs a sealbatch checkout with scripts/test-site.sh", {
      hint: "give a site profile with --site PATH (and --sign-key FILE)",
    });
  }
  const out = await exec("bash", [script.pathname, "env"], {
    what: "cannot read the local test site's settings",
    kind: "remote",
  });
  const env = Object.fromEntries(
    out.text.split("\n").map((l) => l.match(/^([A-Z_]+)=(.*)$/)).filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  if (!env.SITE_PROFILE) throw inputError("scripts/test-site.sh env printed no SITE_PROFILE");
  return {
    profile: env.SITE_PROFILE,
    ...(env.SITE_USER_SECKEY ? { signKey: env.SITE_USER_SECKEY } : {}),
  };
}
