/**
 * Which container runtime is installed (Apptainer, or its predecessor
 * Singularity, which takes the same --pem-path flags), and what the two
 * encrypted image formats it can produce need.
 */
import { SealbatchError } from "../util/errors.ts";
import { hasProgram } from "../util/exec.ts";

export const RUNTIMES = ["apptainer", "singularity"] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** The first runtime on PATH; `what` says what it was needed for. */
export async function findRuntime(what: string): Promise<Runtime> {
  for (const name of RUNTIMES) if (await hasProgram(name)) return name;
  throw new SealbatchError("tool", `${what}: neither apptainer nor singularity is installed`, {
    hint:
      "install Apptainer (https://apptainer.org/docs/admin/main/installation.html) and make sure it is on PATH",
  });
}

/** What each encrypted format is and what it needs on the node (shown by build and in docs). */
export const FORMAT_EXPLANATION: Record<"luks2" | "gocryptfs", string> = {
  luks2: "LUKS2-encrypted squashfs inside the SIF (built as root). Running it needs a setuid " +
    "Apptainer install with 'allow setuid-mount encrypted = yes', cryptsetup >= 2 and " +
    "device-mapper on the node.",
  gocryptfs: "gocryptfs-encrypted squashfs (built unprivileged, Apptainer >= 1.2). Running it " +
    "needs unprivileged user namespaces and FUSE on the node; with a setuid install add --userns.",
};

/** Runtime settings worth passing through (scratch and cache locations); never APPTAINER_ENCRYPTION_*. */
const PASS_THROUGH = [
  "APPTAINER_TMPDIR",
  "APPTAINER_CACHEDIR",
  "SINGULARITY_TMPDIR",
  "SINGULARITY_CACHEDIR",
];

export function runtimeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASS_THROUGH) {
    try {
      const value = Deno.env.get(name);
      if (value) env[name] = value;
    } catch {
      // not granted: the runtime uses its defaults
    }
  }
  return env;
}
