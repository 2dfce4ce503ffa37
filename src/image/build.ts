/**
 * `image build`: drive `apptainer build --pem-path` and keep its result only
 * when the image really is encrypted with a wrapped RSA key. The runtime
 * writes to a temporary sibling; the output name appears only after the
 * check, so a refused or interrupted build leaves nothing behind.
 */
import { inputError, q, refusal } from "../util/errors.ts";
import { exec } from "../util/exec.ts";
import { exists, readTextCapped } from "../util/files.ts";
import { onCleanup } from "../util/cleanup.ts";
import { findRuntime, FORMAT_EXPLANATION, type Runtime, runtimeEnv } from "./apptainer.ts";
import { type ImageReport, inspectImage } from "./inspect.ts";
import { importPublicKeyPem } from "./keys.ts";

export interface BuildOptions {
  definition: string;
  /** rsa_pub.pem (PKCS#1 public key). */
  publicKey: string;
  out: string;
  /** Pass the runtime's output straight through (a terminal); else lines go to `onLine`. */
  stream: boolean;
  onLine?: (line: string) => void;
}

export interface BuildResult {
  path: string;
  runtime: Runtime;
  report: ImageReport;
  /** What the format needs on the node. */
  explanation: string;
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  let def: Deno.FileInfo;
  try {
    def = await Deno.stat(opts.definition);
  } catch {
    throw inputError(`cannot build image: definition file ${q(opts.definition)} not found`);
  }
  if (!def.isFile) throw inputError(`cannot build image: ${q(opts.definition)} is not a file`);
  const pem = await readTextCapped(opts.publicKey, 64 * 1024, "public key");
  await importPublicKeyPem(pem, `public key ${q(opts.publicKey)}`);
  if (await exists(opts.out)) {
    throw inputError(`cannot build image: ${q(opts.out)} already exists`, {
      hint: "remove it first or choose another --out",
    });
  }
  const runtime = await findRuntime("cannot build image");

  const slash = opts.out.lastIndexOf("/");
  const partial = `${opts.out.slice(0, slash + 1)}.${opts.out.slice(slash + 1)}.${
    crypto.randomUUID().slice(0, 8)
  }.partial`;
  const drop = onCleanup(() => Deno.remove(partial).catch(() => {}));
  try {
    const lines = opts.onLine;
    const res = await exec(runtime, [
      "build",
      "--pem-path",
      opts.publicKey,
      partial,
      opts.definition,
    ], {
      what: "cannot build image",
      env: runtimeEnv(),
      ...(opts.stream ? { inherit: "both" as const } : lines ? { onStderrLine: lines } : {}),
    });
    if (!opts.stream && lines) {
      for (const line of res.text.split("\n")) if (line.trim() !== "") lines(line);
    }
    if (!(await exists(partial))) {
      throw inputError(`cannot build image: ${runtime} reported success but wrote no image`);
    }
    const report = await inspectImage(partial);
    if (!report.encrypted || report.format === "plain" || report.format === "other") {
      throw refusal(
        `refusing the image ${runtime} built: it is not encrypted (format ${report.format}); it was removed`,
        {
          hint:
            "an encrypted build needs Apptainer >= 1.2 (gocryptfs, unprivileged) or a root build " +
            "with cryptsetup >= 2 (LUKS2); see 'sealbatch image build --help'",
        },
      );
    }
    if (report.keyMode !== "pem") {
      throw refusal(
        `refusing the image ${runtime} built: it holds no RSA-wrapped key for --pem; it was removed`,
      );
    }
    if (await exists(opts.out)) {
      throw inputError(`cannot build image: ${q(opts.out)} appeared during the build`);
    }
    await Deno.rename(partial, opts.out);
    return {
      path: opts.out,
      runtime,
      report: { ...report, path: opts.out },
      explanation: FORMAT_EXPLANATION[report.format],
    };
  } finally {
    await drop();
  }
}
