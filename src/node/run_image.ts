/**
 * `node run-image`: run an encrypted image on the node with
 * `apptainer run --pem-path`, and remove the private key file when the run
 * ends, whatever the outcome (also when interrupted).
 */
import { q, SealbatchError, usageError } from "../util/errors.ts";
import { exec } from "../util/exec.ts";
import { onCleanup } from "../util/cleanup.ts";
import { readSecretFile, wipeFile } from "../util/secret_file.ts";
import { importPrivateKeyPem } from "../image/keys.ts";
import { findRuntime, type Runtime, runtimeEnv } from "../image/apptainer.ts";
import { SifReader } from "../image/sif.ts";

export interface RunImageOptions {
  /** rsa_pri.pem on node-local private storage; removed when the run ends. */
  pemFile: string;
  image: string;
  /** Validated SRC:DST[:ro|rw] values (see parseBind). */
  binds: string[];
  args: string[];
}

export interface RunImageResult {
  runtime: Runtime;
}

/** Check one --bind value; commas would smuggle extra binds into Apptainer's list syntax. */
export function parseBind(value: string): string {
  const parts = value.split(":");
  const [src, dst, mode] = parts;
  const ok = parts.length >= 2 && parts.length <= 3 && src?.startsWith("/") &&
    dst?.startsWith("/") && !value.includes(",") &&
    (mode === undefined || mode === "ro" || mode === "rw");
  if (!ok) {
    throw usageError(`invalid --bind ${q(value)}`, {
      hint: "use SRC:DST or SRC:DST:ro with absolute paths and no commas",
    });
  }
  return value;
}

async function removeKey(path: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile && !info.isSymlink) return false;
  } catch {
    return false;
  }
  await wipeFile(path);
  return true;
}

export async function runImage(opts: RunImageOptions): Promise<RunImageResult> {
  const dropKey = onCleanup(() => removeKey(opts.pemFile).then(() => {}));
  try {
    const pem = await readSecretFile(opts.pemFile, {
      label: "image private key",
      maxBytes: 64 * 1024,
    });
    try {
      await importPrivateKeyPem(new TextDecoder().decode(pem), `private key ${q(opts.pemFile)}`);
    } finally {
      pem.fill(0);
    }
    // Fails early and clearly on a missing or non-SIF image, before the runtime starts.
    (await SifReader.open(opts.image)).close();
    const runtime = await findRuntime("cannot run image");
    const res = await exec(
      runtime,
      [
        "run",
        "--pem-path",
        opts.pemFile,
        ...opts.binds.flatMap((b) => ["--bind", b]),
        opts.image,
        ...opts.args,
      ],
      {
        inherit: "both",
        okCodes: Array.from({ length: 256 }, (_, i) => i),
        what: "cannot run image",
        env: runtimeEnv(),
      },
    );
    if (res.code !== 0) {
      throw new SealbatchError(
        "job",
        `image ${q(opts.image)} exited with status ${res.code} (${runtime} run)`,
      );
    }
    return { runtime };
  } finally {
    await dropKey();
  }
}
