/**
 * Benchmark: `sealbatch data seal` and `data open` on a 256 MiB directory next
 * to the raw tools doing the same work in the same run (mkfs.ext4 -d +
 * cryptsetup reencrypt --encrypt; cryptsetup reencrypt --decrypt + debugfs
 * rdump), with the same file system size and cryptsetup parameters.
 *
 *   deno run -P=test scripts/bench-data.ts [MiB] [rounds]
 *
 * Prints the best time of each over the rounds and the ratios (target <= 1.2).
 * The raw open is timed without the copy it needs to keep the container
 * intact; sealbatch's time includes that copy.
 */
import { exec } from "../src/util/exec.ts";
import { KDF_ARGS } from "../src/luks/cryptsetup.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const mib = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 2);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function sealbatch(args: string[], runtime: string) {
  return exec(Deno.execPath(), [
    "run",
    "-q",
    "-P=sealbatch",
    "--config",
    `${ROOT}/deno.json`,
    `${ROOT}/main.ts`,
    ...args,
  ], { env: { XDG_RUNTIME_DIR: runtime, NO_COLOR: "1" }, what: "sealbatch" });
}

const base = await Deno.makeTempDir({ prefix: "sealbatch-bench-" });
try {
  const src = `${base}/src`;
  await Deno.mkdir(`${src}/sub`, { recursive: true });
  // Eight 32 MiB files of random bytes (not compressible, not sparse) plus small ones.
  const chunk = new Uint8Array(1 << 20);
  for (let f = 0; f < mib / 32; f++) {
    const file = await Deno.open(`${src}/sub/part${f}.bin`, { create: true, write: true });
    for (let i = 0; i < 32; i++) {
      for (let j = 0; j < chunk.length; j += 65536) {
        crypto.getRandomValues(chunk.subarray(j, j + 65536));
      }
      await file.write(chunk);
    }
    file.close();
  }
  for (let i = 0; i < 100; i++) await Deno.writeTextFile(`${src}/small${i}.txt`, `file ${i}\n`);
  const key = `${base}/raw.key`;
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(64)), { mode: 0o600 });

  const best = { seal: Infinity, rawSeal: Infinity, open: Infinity, rawOpen: Infinity };
  for (let r = 0; r < rounds; r++) {
    const runtime = `${base}/runtime`;
    await Deno.mkdir(runtime, { mode: 0o700 });
    const img = `${base}/sb.img`;
    let fsBytes = 0;
    best.seal = Math.min(
      best.seal,
      await timed(async () => {
        const res = await sealbatch(["--json", "data", "seal", src, "--out", img], runtime);
        fsBytes = JSON.parse(res.text).fsBytes;
      }),
    );

    const raw = `${base}/raw.img`;
    best.rawSeal = Math.min(
      best.rawSeal,
      await timed(async () => {
        await Deno.writeFile(raw, new Uint8Array());
        await Deno.truncate(raw, fsBytes);
        await exec("mkfs.ext4", ["-q", "-F", "-b", "4096", "-m", "0", "-d", src, raw]);
        await Deno.truncate(raw, fsBytes + 32 * 1024 * 1024);
        await exec("cryptsetup", [
          "reencrypt",
          "--encrypt",
          "--type",
          "luks2",
          "--sector-size",
          "4096",
          ...KDF_ARGS,
          "--reduce-device-size",
          "32M",
          "--force-offline-reencrypt",
          "--disable-locks",
          "--batch-mode",
          "--key-file",
          key,
          raw,
        ]);
      }),
    );

    best.open = Math.min(
      best.open,
      await timed(() =>
        sealbatch(["data", "open", img, "--key", `${base}/sb.key`, "--out", `${base}/out`], runtime)
      ),
    );

    const work = `${base}/work.img`;
    await Deno.copyFile(raw, work);
    const rawOut = `${base}/rawout`;
    await Deno.mkdir(rawOut);
    best.rawOpen = Math.min(
      best.rawOpen,
      await timed(async () => {
        await exec("cryptsetup", [
          "reencrypt",
          "--decrypt",
          "--header",
          `${base}/hdr.img`,
          "--force-offline-reencrypt",
          "--disable-locks",
          "--batch-mode",
          "--key-file",
          key,
          work,
        ]);
        await exec("debugfs", ["-R", "rdump / .", work], { cwd: rawOut });
      }),
    );

    for (
      const p of ["sb.img", "sb.key", "raw.img", "work.img", "hdr.img", "out", "rawout", "runtime"]
    ) {
      await Deno.remove(`${base}/${p}`, { recursive: true });
    }
  }

  const line = (what: string, ours: number, theirs: number) =>
    console.log(
      `${what.padEnd(6)} sealbatch ${ours.toFixed(2)} s   raw tools ${
        theirs.toFixed(2)
      } s   ratio ${(ours / theirs).toFixed(2)}x`,
    );
  console.log(`data containers, ${mib} MiB directory, best of ${rounds}:`);
  line("seal", best.seal, best.rawSeal);
  line("open", best.open, best.rawOpen);
} finally {
  await Deno.remove(base, { recursive: true });
}
