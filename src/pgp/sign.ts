/** Detached binary signatures (type 0x00) over exact bytes, as `gpg --detach-sign` makes. */
import { createMessage, sign } from "openpgp";
import type { PrivateKey } from "openpgp";
import { inputError, reason } from "../util/errors.ts";
import { PGP_CONFIG } from "./config.ts";

export async function signDetached(
  data: Uint8Array,
  key: PrivateKey,
  label: string,
): Promise<Uint8Array> {
  const message = await createMessage({ binary: data });
  try {
    return await sign({
      message,
      signingKeys: key,
      detached: true,
      format: "binary",
      config: PGP_CONFIG,
    }) as Uint8Array;
  } catch (err) {
    throw inputError(`cannot sign with ${label}: ${reason(err)}`);
  }
}
