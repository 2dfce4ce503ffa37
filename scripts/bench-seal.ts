/**
 * Benchmark: `job seal` (library call and CLI) against the reference way,
 * `gpg --armor --encrypt` + `gpg --detach-sign`, on the same command script
 * with the same keys (curve25519, imported into a temporary GNUPGHOME).
 *
 * Usage: deno run -P=test scripts/bench-seal.ts [iterations]
 */
import { writeKeyPair } from "../src/pgp/keygen.ts";
import { sealJob } from "../src/job/seal.ts";
import { exec } from "../src/util/exec.ts";
import { median, timed } from "./_bench.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const iterations = Number(Deno.args[0] ?? 15);
const dir = await Deno.makeTempDir({ prefix: "sealbatch-bench-" });

try {
  const user = await writeKeyPair({ kind: "user", name: "u", email: "u@bench", outDir: dir });
  const node = await writeKeyPair({ kind: "node", name: "n", email: "n@bench", outDir: dir });
  const command = `${dir}/command.sh`;
  // A realistic command script: the tutorial's job plus Vault tokens, ~4 KiB.
  await Deno.writeTextFile(
    command,
    "#!/bin/bash\nset -euo pipefail\n" +
      Array.from({ length: 60 }, (_, i) => `export TOKEN_${i}=hvs.${"x".repeat(48)}\n`).join("") +
      "bart fft -u -i 3 in/shepp_logan out/output_fft\n",
  );

  const gnupg = `${dir}/gnupg`;
  await Deno.mkdir(gnupg, { mode: 0o700 });
  const gpg = (args: string[]) =>
    exec("gpg", ["--batch", "--quiet", "--trust-model", "always", ...args], {
      env: { GNUPGHOME: gnupg },
    });
  await gpg(["--import", user.secretKey, node.publicKey]);
  // Warm the agent so its start-up is not counted in the first iteration.
  await gpg([
    "--armor",
    "--recipient",
    "n@bench",
    "--output",
    `${dir}/warm.asc`,
    "--encrypt",
    command,
  ]);

  const lib = await timed(iterations, (i) =>
    sealJob({
      command: { file: command },
      nodeKey: node.publicKey,
      signKey: user.secretKey,
      outDir: `${dir}/lib-${i}`,
      user: "bench",
    }));
  const cli = await timed(iterations, (i) =>
    exec(Deno.execPath(), [
      "run",
      "-q",
      "--no-prompt",
      "-P=sealbatch",
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}main.ts`,
      "job",
      "seal",
      "--command",
      command,
      "--node-key",
      node.publicKey,
      "--sign-key",
      user.secretKey,
      "--out",
      `${dir}/cli-${i}`,
      "--user",
      "bench",
    ]));
  const ref = await timed(iterations, async (i) => {
    const out = `${dir}/gpg-${i}`;
    await Deno.mkdir(out);
    await gpg([
      "--armor",
      "--recipient",
      "n@bench",
      "--output",
      `${out}/command.sh.asc`,
      "--encrypt",
      command,
    ]);
    const msg = await Deno.readTextFile(`${out}/command.sh.asc`);
    await Deno.writeTextFile(
      `${out}/run.sh`,
      `#!/bin/bash\n\n/usr/bin/decrypt_and_execute <<EOF\n${msg}EOF`,
    );
    await gpg([
      "--local-user",
      "u@bench",
      "--detach-sign",
      "--output",
      `${out}/run.sh.sig`,
      `${out}/run.sh`,
    ]);
  });

  const g = median(ref);
  const row = (name: string, xs: number[]) =>
    `${name.padEnd(46)} ${median(xs).toFixed(1).padStart(8)} ms   ${
      (median(xs) / g).toFixed(2)
    }x gpg`;
  console.log(`job seal vs gpg --encrypt + --detach-sign, ${iterations} iterations, medians:`);
  console.log(row("sealJob() library call", lib));
  console.log(row("sealbatch job seal (CLI, incl. deno start-up)", cli));
  console.log(row("gpg --armor --encrypt + gpg --detach-sign", ref));
} finally {
  await exec("gpgconf", ["--kill", "all"], {
    env: { GNUPGHOME: `${dir}/gnupg` },
    okCodes: [0, 1, 2],
  })
    .catch(() => {});
  await Deno.remove(dir, { recursive: true });
}
