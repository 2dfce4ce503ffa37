/**
 * Benchmark: the image area against the tools the reference site uses by hand.
 *  1. key pair: `image keygen`'s in-process RSA-4096 vs the documented recipe
 *     `ssh-keygen -t rsa -b 4096 -m pem -N ''` (+ `-e -m pem` for the public key)
 *     and `openssl genrsa -traditional 4096`;
 *  2. key check of a LUKS2 image: `inspectImage --key` (parse SIF, RSA-OAEP unwrap,
 *     cryptsetup --test-passphrase on the metadata) vs the same by hand:
 *     dd the partition out, openssl pkeyutl -decrypt, cryptsetup --test-passphrase.
 * RSA key generation time varies a lot between runs (prime search): medians.
 *
 * Usage: deno run -P=test scripts/bench-image.ts [iterations]
 */
import { generateImageKeyPair } from "../src/image/keys.ts";
import { decodeCryptoMessage } from "../src/image/crypto_message.ts";
import { inspectImage } from "../src/image/inspect.ts";
import { keyMessageFor, primaryPartition, SifReader } from "../src/image/sif.ts";
import { exec } from "../src/util/exec.ts";
import { makeTestImage } from "../tests/image/_sif_images.ts";

const iterations = Number(Deno.args[0] ?? 7);
const dir = await Deno.makeTempDir({ prefix: "sealbatch-bench-" });

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  const s = times.sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const row = (label: string, ms: number, base: number) =>
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms  x${(ms / base).toFixed(2)}`);

try {
  console.log(`RSA-4096 key pair, median of ${iterations}`);
  const ours = await timed(iterations, () => generateImageKeyPair(4096));
  const sshKeygen = await timed(iterations, async (i) => {
    const key = `${dir}/ssh${i}`;
    await exec("ssh-keygen", ["-q", "-t", "rsa", "-b", "4096", "-m", "pem", "-N", "", "-f", key]);
    await exec("ssh-keygen", ["-f", `${key}.pub`, "-e", "-m", "pem"]);
  });
  const openssl = await timed(
    iterations,
    (i) => exec("openssl", ["genrsa", "-traditional", "-out", `${dir}/o${i}.pem`, "4096"]),
  );
  row("sealbatch image keygen (WebCrypto, in-process)", ours, ours);
  row("ssh-keygen -m pem + -e -m pem (reference recipe)", sshKeygen, ours);
  row("openssl genrsa -traditional 4096", openssl, ours);

  const keys = await generateImageKeyPair(4096);
  const pri = `${dir}/rsa_pri.pem`;
  await Deno.writeTextFile(pri, keys.privatePem, { mode: 0o600 });
  const sif = `${dir}/app.sif`;
  await makeTestImage(sif, { kind: "luks2", publicPem: keys.publicPem });
  console.log(
    `\nkey check of a ${
      (await Deno.stat(sif)).size >> 20
    } MiB LUKS2 image, median of ${iterations}`,
  );
  const check = await timed(iterations, () => inspectImage(sif, { key: pri }));
  const byHand = await timed(iterations, async () => {
    await using r = await SifReader.open(sif);
    const part = primaryPartition(r.image)!;
    const msg = keyMessageFor(r.image, part)!;
    await exec("dd", [
      `if=${sif}`,
      `of=${dir}/part.img`,
      "bs=4096",
      `skip=${part.offset / 4096}`,
      `count=${Math.ceil(part.size / 4096)}`,
      "status=none",
    ]);
    const ct = decodeCryptoMessage(await r.data(msg, 65536, "message"));
    const pass = await exec("openssl", [
      "pkeyutl",
      "-decrypt",
      "-inkey",
      pri,
      "-pkeyopt",
      "rsa_padding_mode:oaep",
      "-pkeyopt",
      "rsa_oaep_md:sha256",
    ], { stdin: ct });
    await exec("cryptsetup", [
      "open",
      "--test-passphrase",
      "--disable-locks",
      "--key-file",
      "-",
      `${dir}/part.img`,
    ], { stdin: pass.stdout });
    await Deno.remove(`${dir}/part.img`);
  });
  row("sealbatch inspectImage --key (SIF + OAEP + cryptsetup)", check, check);
  row("by hand: dd + openssl pkeyutl + cryptsetup", byHand, check);
} finally {
  await Deno.remove(dir, { recursive: true });
}
