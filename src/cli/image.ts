/** `sealbatch image ...`: key pair, encrypted build, and inspection of Apptainer (SIF) images. */
import { Command } from "@commander-js/extra-typings";
import { q, refusal, usageError } from "../util/errors.ts";
import { jsonMode, note, result, warn } from "./output.ts";
import type { ImageReport } from "../image/inspect.ts";
import { FORMAT_EXPLANATION } from "../image/apptainer.ts";

function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace(".000Z", "Z");
}

const FORMAT_LINE: Record<ImageReport["format"], string> = {
  luks2: "luks2 (encrypted: LUKS2 squashfs inside the SIF)",
  gocryptfs: "gocryptfs (encrypted: gocryptfs squashfs)",
  plain: "plain (NOT encrypted)",
  other: "other (no encrypted system partition; NOT encrypted)",
};

/** Human form of an inspection; the object table follows `apptainer sif list`. */
export function formatReport(r: ImageReport): string {
  const lines = [
    `image:        ${r.path} (${r.size} bytes)`,
    `format:       ${FORMAT_LINE[r.format]}`,
    `encrypted:    ${r.encrypted ? "yes" : "no"}`,
    `arch:         ${r.header.arch}`,
    `id:           ${r.header.id ?? "none"}`,
    `created:      ${formatTime(r.header.createdAt)}`,
  ];
  const p = r.primaryPartition;
  lines.push(
    `partition:    ${p ? `object ${p.id}, ${p.fsType}, ${p.arch}, ${p.size} bytes` : "none"}`,
  );
  if (r.luks2) {
    lines.push(
      `luks2:        ${r.luks2.cipher}, sector ${r.luks2.sectorSize}, data at ${r.luks2.dataOffset}, ${r.luks2.keyslots} keyslot(s), uuid ${r.luks2.uuid}`,
    );
  }
  if (r.gocryptfs) {
    const g = r.gocryptfs;
    lines.push(
      `gocryptfs:    ${g.cipher}, ${g.creator}, gocryptfs.conf + encrypted ${g.file} (${g.bytes} bytes)`,
    );
  }
  if (r.encrypted) {
    lines.push(
      `key:          ${
        r.keyMessage
          ? `RSA-OAEP wrapped key in object ${r.keyMessage.id} (${r.keyMessage.size} bytes)`
          : "passphrase (no wrapped key in the image)"
      }`,
    );
  }
  if (r.keyCheck) {
    lines.push(
      `key check:    ok: the ${r.keyCheck.keyBits}-bit key decrypts the wrapped key${
        r.keyCheck.luks2Opens ? " and it opens a LUKS2 keyslot" : ""
      }${r.format === "gocryptfs" ? " (gocryptfs itself is checked only at run time)" : ""}`,
    );
  }
  lines.push("", "ID  |GROUP |LINK  |SIF POSITION (start-end) |TYPE");
  for (const o of r.objects) {
    const link = o.linkedId ?? (o.linkedGroup !== null ? `G${o.linkedGroup}` : "NONE");
    const pos = `${o.offset}-${o.offset + o.size}`;
    lines.push(
      `${String(o.id).padEnd(4)}|${String(o.group ?? "NONE").padEnd(6)}|${String(link).padEnd(6)}|${
        pos.padEnd(25)
      }|${o.type}${o.detail ? ` (${o.detail})` : ""}`,
    );
  }
  return lines.join("\n");
}

function keygenCommand() {
  return new Command("keygen")
    .description(
      "make an RSA-4096 key pair for encrypted images: rsa_pri.pem (0600) and rsa_pub.pem, PKCS#1 PEM as Apptainer expects",
    )
    .requiredOption(
      "--out <dir>",
      "directory for rsa_pri.pem and rsa_pub.pem (created 0700 if missing)",
    )
    .addHelpText(
      "after",
      "\nThe key pair is made in-process; no ssh-keygen or openssl is needed. Existing keys are never overwritten.\n\nExamples:\n  sealbatch image keygen --out ~/.sealbatch/image-keys\n  sealbatch image build app.def --pem ~/.sealbatch/image-keys/rsa_pub.pem --out app.sif",
    )
    .action(async (opts) => {
      const { writeImageKeyPair } = await import("../image/keys.ts");
      const r = await writeImageKeyPair(opts.out);
      result(
        `wrote ${r.privateKey} (private, mode 0600; keep it off shared storage)\nwrote ${r.publicKey} (public, for 'image build --pem')`,
        r,
      );
    });
}

function buildCommand() {
  return new Command("build")
    .description(
      "build an encrypted image with apptainer (or singularity) build --pem-path; refuses to keep an unencrypted result",
    )
    .argument("<definition>", "Apptainer definition file")
    .requiredOption(
      "--pem <rsa_pub.pem>",
      "RSA public key (PKCS#1 PEM) the image key is wrapped to",
    )
    .requiredOption("--out <name.sif>", "image to write (must not exist)")
    .addHelpText(
      "after",
      `
Apptainer makes one of two encrypted formats, depending on who runs the build:
  root build (sudo):   ${FORMAT_EXPLANATION.luks2}
  unprivileged build:  ${FORMAT_EXPLANATION.gocryptfs}
Either way a random 64-byte key encrypts the image and is stored in it wrapped with RSA-OAEP
to --pem; only the matching rsa_pri.pem can run it. The result is inspected before it gets
its name: an image that is not encrypted is removed and the command fails (exit 4).

Examples:
  sealbatch image build app.def --pem keys/rsa_pub.pem --out app.sif
  sudo sealbatch image build app.def --pem keys/rsa_pub.pem --out app.sif   # LUKS2 format`,
    )
    .action(async (definition, opts) => {
      const { buildImage } = await import("../image/build.ts");
      const r = await buildImage({
        definition,
        publicKey: opts.pem,
        out: opts.out,
        stream: !jsonMode(),
        onLine: (line) => note(line),
      });
      const format = r.report.format as "luks2" | "gocryptfs";
      result(
        `built ${r.path}: encrypted, format ${format}, key wrapped to ${opts.pem}\n${
          FORMAT_EXPLANATION[format]
        }`,
        { path: r.path, runtime: r.runtime, format, explanation: r.explanation, image: r.report },
      );
    });
}

function inspectCommand() {
  return new Command("inspect")
    .description(
      "show what a SIF image holds and whether it is encrypted (pure file reading: no root, no apptainer)",
    )
    .argument("<image>", "SIF image")
    .option("--key <rsa_pri.pem>", "prove this private key opens the image")
    .option("--require-encrypted", "fail (exit 4) unless the image is encrypted")
    .addHelpText(
      "after",
      `
With --key the RSA-OAEP wrapped key is decrypted; for the LUKS2 format the recovered
passphrase must also open a keyslot of the partition's LUKS2 header (cryptsetup
--test-passphrase on a copy of the header, rootless). A key that does not fit exits 4.
Output fields are described in docs/images.md.

Examples:
  sealbatch image inspect app.sif
  sealbatch image inspect app.sif --key keys/rsa_pri.pem --require-encrypted
  sealbatch --json image inspect app.sif`,
    )
    .action(async (image, opts) => {
      // The step also takes PEM text; from the command line only a path, so no key is in argv.
      if (opts.key?.trimStart().startsWith("-----BEGIN")) {
        throw usageError("--key takes the path of rsa_pri.pem, not the key itself", {
          hint: "key material on the command line is visible to every user of the machine",
        });
      }
      const { inspectImage } = await import("../image/inspect.ts");
      const report = await inspectImage(image, opts.key !== undefined ? { key: opts.key } : {});
      if (opts.requireEncrypted && !report.encrypted) {
        throw refusal(`image ${q(image)} is not encrypted (format ${report.format})`, {
          hint: "build it with 'sealbatch image build --pem rsa_pub.pem'",
        });
      }
      if (opts.key !== undefined && !report.encrypted) {
        warn(`image ${q(image)} is not encrypted; --key was not used`);
      }
      result(formatReport(report), report);
    });
}

export function imageCommand(): Command {
  return new Command("image")
    .description("encrypted Apptainer images: key pair, build, inspection")
    .addCommand(keygenCommand())
    .addCommand(buildCommand())
    .addCommand(inspectCommand())
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch image keygen --out keys\n  sealbatch image build app.def --pem keys/rsa_pub.pem --out app.sif\n  sealbatch image inspect app.sif --key keys/rsa_pri.pem",
    );
}
