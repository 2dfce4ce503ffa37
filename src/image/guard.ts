/**
 * The upload guard: every path that ships an image to the cluster calls this
 * first. An unencrypted image is refused unless the job spec says
 * `image.encrypted: false` (then it only warns); with a private key, the key
 * must really open the image.
 */
import { q, refusal } from "../util/errors.ts";
import { warn } from "../cli/output.ts";
import { inspectImage } from "./inspect.ts";

export interface GuardOptions {
  /** Path to rsa_pri.pem (or its PEM text) that must open the image. */
  privateKey?: string;
  /** `image.encrypted: false` in the job spec: warn instead of refusing. */
  allowUnencrypted?: boolean;
}

export interface GuardResult {
  encrypted: boolean;
  format: "luks2" | "gocryptfs" | "plain" | "other";
}

export async function guardImageUpload(path: string, opts: GuardOptions): Promise<GuardResult> {
  // Without a key first: an unencrypted image is judged without touching key material.
  const plainReport = await inspectImage(path);
  if (!plainReport.encrypted) {
    if (!opts.allowUnencrypted) {
      throw refusal(
        `refusing to upload image ${q(path)}: it is not encrypted (format ${plainReport.format})`,
        {
          hint: "build it with 'sealbatch image build --pem rsa_pub.pem', or set " +
            "image.encrypted: false in the job spec to upload it in the clear",
        },
      );
    }
    warn(`uploading image ${q(path)} unencrypted (image.encrypted: false in the job spec)`);
    return { encrypted: false, format: plainReport.format };
  }
  if (opts.privateKey !== undefined) await inspectImage(path, { key: opts.privateKey });
  return { encrypted: true, format: plainReport.format };
}
