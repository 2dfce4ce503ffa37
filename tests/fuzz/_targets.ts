/**
 * The fuzz targets by name, each loaded only in the Worker that runs it, and
 * their regression inputs: every file in regressions/NAME/ is a case that
 * once failed and runs before the seeded cases of each run.
 */
import type { FuzzTarget } from "./_harness.ts";

const MODULES: Record<string, string> = {
  "job-spec": "./targets/yaml.ts",
  "site-profile": "./targets/yaml.ts",
  "pgp-public-key": "./targets/pgp.ts",
  "pgp-private-key": "./targets/pgp.ts",
  "pgp-message": "./targets/pgp.ts",
  "pgp-signature": "./targets/pgp.ts",
  "run-script": "./targets/job.ts",
  "manifest": "./targets/job.ts",
  "receipt": "./targets/job.ts",
  "sif": "./targets/image.ts",
  "crypto-message": "./targets/image.ts",
  "pem-key": "./targets/image.ts",
  "luks2-header": "./targets/luks.ts",
  "slurm-output": "./targets/remote.ts",
  "sha256-lines": "./targets/remote.ts",
  "vault-response": "./targets/vault.ts",
  "dev-server-http": "./targets/dev_server.ts",
  // The harness's own test: targets that misbehave on purpose.
  "selftest-exception": "./targets/selftest.ts",
  "selftest-hang": "./targets/selftest.ts",
  "selftest-memory": "./targets/selftest.ts",
  "selftest-slow": "./targets/selftest.ts",
};

/** Every target a full run covers (not the self-test ones). */
export const TARGET_NAMES: readonly string[] = Object.keys(MODULES).filter((n) =>
  !n.startsWith("selftest-")
);

/**
 * Seeded cases per target in each test run: over 20,000 in all, about 30 s of
 * CPU on the 2-core CI machine. scripts/fuzz.ts runs any number.
 */
export const CI_CASES: Record<string, number> = {
  "job-spec": 1200,
  "site-profile": 1200,
  "pgp-public-key": 1000,
  "pgp-private-key": 1000,
  "pgp-message": 1000,
  "pgp-signature": 1000,
  "run-script": 1500,
  "manifest": 1500,
  "receipt": 1500,
  "sif": 1200,
  "crypto-message": 1000,
  "pem-key": 1000,
  "luks2-header": 1500,
  "slurm-output": 1500,
  "sha256-lines": 1000,
  "vault-response": 1500,
  "dev-server-http": 800,
};

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const module = MODULES[name];
  if (module === undefined) throw new Error(`no fuzz target ${JSON.stringify(name)}`);
  const { makeTarget } = await import(module) as {
    makeTarget(name: string): Promise<FuzzTarget>;
  };
  return await makeTarget(name);
}

const REGRESSIONS = new URL("./regressions/", import.meta.url).pathname;

/** [file name, bytes] of the target's regression inputs, sorted by name. */
export async function regressionInputs(name: string): Promise<[string, Uint8Array][]> {
  const dir = `${REGRESSIONS}${name}`;
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  names.sort();
  return await Promise.all(
    names.map(async (n) => [n, await Deno.readFile(`${dir}/${n}`)] as [string, Uint8Array]),
  );
}

const CORPUS = new URL("./corpus/", import.meta.url).pathname;

export const corpusText = (name: string) => Deno.readTextFile(`${CORPUS}${name}`);
export const corpusBytes = (name: string) => Deno.readFile(`${CORPUS}${name}`);

let caseRoot: string | undefined;

/** Where case files go: a directory the main side removes even when it terminates the Worker. */
export function setCaseRoot(dir: string): void {
  caseRoot = dir;
}

/** A private directory for the Worker's case files, and a writer of one case file. */
export async function caseFiles(prefix: string) {
  const dir = await Deno.makeTempDir({
    prefix: `sealbatch-fuzz-${prefix}-`,
    ...(caseRoot ? { dir: caseRoot } : {}),
  });
  return {
    dir,
    async write(name: string, bytes: Uint8Array): Promise<string> {
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, bytes);
      return path;
    },
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}
