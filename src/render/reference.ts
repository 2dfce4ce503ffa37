/**
 * The command script for a node of the reference site (gwdg/secure-hpc
 * client/command.sh.template): its node offers `vault`, `getkey USER KEY
 * HPC_UID` (writes /keys/KEY.key from secret/USER/KEY, field key),
 * `mount_data NAME` (opens /scratch/users/HPC_UID/secure/NAME.img with
 * /keys/NAME.key at /data/HPC_UID/NAME), `umount_data NAME` and Singularity
 * with `--pem-path`. Keys must therefore be escrowed in reference mode under
 * the container names (and the image key under its own name, e.g. rsa_pri).
 *
 * Each key has its own single-use wrapping token (sealbatch's reference-mode
 * escrow); the template's one unwrap becomes one unwrap per key. Every value
 * inserted is single-quoted.
 */
import { inputError, q } from "../util/errors.ts";
import { sh } from "../remote/quote.ts";
import { checkKeyName } from "../kms/credentials.ts";
import type { CredentialKey, Credentials } from "../kms/credentials.ts";
import { NAME_RE } from "../util/user.ts";

export interface ReferenceRenderInput {
  /** Reference-mode credentials: key paths `<mount>/data/<vault user>/<name>`. */
  credentials: Credentials;
  /** The HPC account (`<hpc-uid>` of the template). */
  hpcUser: string;
  /** Container names (also their key names): input, and the results container if any. */
  containers: { input: string; output?: string };
  /** The image's private key name (the template's rsa_pri). */
  imageKey: string;
  /** Path of the encrypted SIF on the node. */
  image: string;
  /** Arguments for the image's runscript, with {input} {output} {image} placeholders. */
  command: string;
  /** The template's `<DEFAULT_TOKEN>` (a default-policy token), when the site hands one out. */
  setupToken?: string;
  /** Default /usr/local/bin/singularity, as in the template. */
  singularity?: string;
}

/** mount_data accepts only these names. */
const CONTAINER_RE = /^[a-zA-Z1-9]+$/;
const INPUT_DIR = "/data";
const OUTPUT_DIR = "/output";

function keyOf(creds: Credentials, name: string): { key: CredentialKey; vaultUser: string } {
  const key = creds.keys.find((k) => k.name === name);
  if (key === undefined) {
    throw inputError(`cannot render the reference job script: no credential for key ${q(name)}`);
  }
  // <mount>/data/<vault user>/<name>: what getkey reads as secret/<vault user>/<name>.
  const parts = key.path.split("/");
  if (parts.length !== 4 || parts[1] !== "data" || parts[3] !== name) {
    throw inputError(
      `cannot render the reference job script: key ${
        q(name)
      } is not at <mount>/data/<user>/${name}`,
      { hint: "escrow the keys with --mode reference" },
    );
  }
  return { key, vaultUser: parts[2]! };
}

export function renderReferenceScript(input: ReferenceRenderInput): string {
  const creds = input.credentials;
  if (creds.mode !== "reference") {
    throw inputError(
      "cannot render the reference job script: the credentials are not in reference mode",
      {
        hint: "escrow the keys with --mode reference",
      },
    );
  }
  const names = [
    input.containers.input,
    ...(input.containers.output ? [input.containers.output] : []),
  ];
  for (const name of names) {
    if (!CONTAINER_RE.test(name)) {
      throw inputError(`invalid container name ${q(name)} for the reference site`, {
        hint: "its mount_data accepts only letters and the digits 1-9",
      });
    }
  }
  checkKeyName(input.imageKey);
  if (!NAME_RE.test(input.hpcUser)) {
    throw inputError(`invalid HPC account name ${q(input.hpcUser)}`);
  }
  if (input.command.trim() === "") throw inputError("cannot render the job script: no command");
  const data = (name: string) => `/data/${input.hpcUser}/${name}`;
  const binds = [`${data(input.containers.input)}:${INPUT_DIR}`];
  if (input.containers.output) binds.push(`${data(input.containers.output)}:${OUTPUT_DIR}`);
  const args = input.command
    .replaceAll("{input}", sh(INPUT_DIR))
    .replaceAll("{output}", sh(OUTPUT_DIR))
    .replaceAll("{image}", sh(input.image));

  const lines = ["#!/bin/bash", ""];
  if (input.setupToken !== undefined) lines.push(`token_setup=${sh(input.setupToken)}`);
  lines.push(`export VAULT_ADDR=${sh(creds.vault_addr)}`);
  if (input.setupToken !== undefined) lines.push("VAULT_TOKEN=$token_setup");
  lines.push("");
  for (const name of [...names, input.imageKey]) {
    const { key, vaultUser } = keyOf(creds, name);
    lines.push(
      `token=${sh(key.token)}`,
      "token=$(vault unwrap -field=token $token)",
      "export VAULT_TOKEN=$token",
      `getkey ${sh(vaultUser)} ${sh(name)} ${sh(input.hpcUser)}`,
      "",
    );
  }
  for (const name of names) lines.push(`mount_data ${sh(name)}`);
  lines.push(
    "",
    `${sh(input.singularity ?? "/usr/local/bin/singularity")} run ` +
      `--pem-path=${sh(`/keys/${input.imageKey}.key`)} --bind ${sh(binds.join(","))} ` +
      `${sh(input.image)} ${args}`,
    "",
  );
  for (const name of names) lines.push(`umount_data ${sh(name)}`);
  lines.push("");
  return lines.join("\n");
}
