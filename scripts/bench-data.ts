/**
 * Benchmark: `sealbatch data seal` and `data open` on a 256 MiB directory next
 * to the raw tools doing the same work in the same run (mkfs.ext4 -d +
 * cryptsetup reencrypt --encrypt; cryptsetup reencrypt --decrypt + debugfs
 * rdump), with the same file system size and cryptsetup parameters.
 *
 *   deno run -P=test scripts/bench-data.ts [MiB] [rounds]
 *
 * Prints the best and the slowest time of each over the rounds, the ratios of
 * the best times (target <= 1.2), and the median and range of the ratios
 * within each round (on a busy machine these move less than the best times). `reencrypt --decrypt` destroys its input,
 * so the raw open has two peers: in place (the container is lost; the copy it
 * works on is made and flushed to disk before the clock starts) and on a copy
 * (the copy is timed, as keeping the container requires; `cp` speed, through
 * copy_file_range). sealbatch keeps the container, so "on a copy" is the like
 * for like peer. All work files, sealbatch's private directory included, are
 * on the same file system. sealbatch also overwrites its plaintext copy before
 * deleting it; the raw peers only delete theirs.
 */
import { exec } from "../src/util/exec.ts";
import { HEADER_ARGS, KDF_ARGS, REDUCE_BYTES } from "../src/luks/cryptsetup.ts";
import { CLI_ARGS } from "../tests/_helpers/cli.ts";

const mib = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 2);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

function sealbatch(args: string[], runtime: string) {
  return exec(Deno.execPath(), [
    ...CLI_ARGS,
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

  const times = {
    seal: [] as number[],
    rawSeal: [] as number[],
    open: [] as number[],
    rawInPlace: [] as number[],
    rawOnCopy: [] as number[],
  };
  const rawDecrypt = (image: string, header: string, out: string) => async () => {
    await exec("cryptsetup", [
      "reencrypt",
      "--decrypt",
      "--header",
      header,
      "--force-offline-reencrypt",
      "--disable-locks",
      "--batch-mode",
      "--key-file",
      key,
      image,
    ]);
    await Deno.mkdir(out);
    await exec("debugfs", ["-R", "rdump / .", image], { cwd: out });
  };
  for (let r = 0; r < rounds; r++) {
    // sealbatch's private work directory: on the same file system as the raw tools' files.
    const runtime = `${base}/runtime`;
    await Deno.mkdir(runtime, { mode: 0o700 });
    const img = `${base}/sb.img`;
    let fsBytes = 0;
    times.seal.push(
      await timed(async () => {
        const res = await sealbatch(["--json", "data", "seal", src, "--out", img], runtime);
        fsBytes = JSON.parse(res.text).fsBytes;
      }),
    );

    const raw = `${base}/raw.img`;
    times.rawSeal.push(
      await timed(async () => {
        await Deno.writeFile(raw, new Uint8Array());
        await Deno.truncate(raw, fsBytes);
        await exec("mkfs.ext4", ["-q", "-F", "-b", "4096", "-m", "0", "-d", src, raw]);
        await Deno.truncate(raw, fsBytes + REDUCE_BYTES);
        await exec("cryptsetup", [
          "reencrypt",
          "--encrypt",
          "--type",
          "luks2",
          "--sector-size",
          "4096",
          ...KDF_ARGS,
          ...HEADER_ARGS,
          "--reduce-device-size",
          `${REDUCE_BYTES / 1024}k`,
          "--force-offline-reencrypt",
          "--disable-locks",
          "--batch-mode",
          "--key-file",
          key,
          raw,
        ]);
      }),
    );

    times.open.push(
      await timed(() =>
        sealbatch(["data", "open", img, "--key", `${base}/sb.key`, "--out", `${base}/out`], runtime)
      ),
    );

    const inPlace = `${base}/inplace.img`;
    await Deno.copyFile(raw, inPlace);
    // As if the container had been on disk all along: no dirty pages left to the timed part.
    const file = await Deno.open(inPlace, { write: true });
    await file.syncData();
    file.close();
    times.rawInPlace.push(
      await timed(rawDecrypt(inPlace, `${base}/inplace-hdr.img`, `${base}/inplace-out`)),
    );

    const copy = `${base}/copy.img`;
    times.rawOnCopy.push(
      await timed(async () => {
        await Deno.copyFile(raw, copy);
        await rawDecrypt(copy, `${base}/copy-hdr.img`, `${base}/copy-out`)();
        await Deno.remove(copy);
      }),
    );

    for (
      const p of [
        "sb.img",
        "sb.key",
        "raw.img",
        "inplace.img",
        "inplace-hdr.img",
        "inplace-out",
        "copy-hdr.img",
        "copy-out",
        "out",
        "runtime",
      ]
    ) {
      await Deno.remove(`${base}/${p}`, { recursive: true });
    }
  }

  const best = (xs: number[]) => Math.min(...xs);
  const span = (xs: number[]) => `${best(xs).toFixed(2)} s (slowest ${Math.max(...xs).toFixed(2)})`;
  const perRound = (ours: number[], theirs: number[]) => {
    const r = ours.map((t, i) => t / theirs[i]!).sort((a, b) => a - b);
    const median = (r[(r.length - 1) >> 1]! + r[r.length >> 1]!) / 2;
    return `per round ${median.toFixed(2)}x (${r[0]!.toFixed(2)}-${r.at(-1)!.toFixed(2)})`;
  };
  const line = (what: string, ours: number[], peer: string, theirs: number[]) =>
    console.log(
      `${what.padEnd(5)} sealbatch ${span(ours)}   ${peer.padEnd(16)} ${span(theirs)}   ratio ${
        (best(ours) / best(theirs)).toFixed(2)
      }x, ${perRound(ours, theirs)}`,
    );
  console.log(`data containers, ${mib} MiB directory, ${rounds} rounds, best (slowest):`);
  line("seal", times.seal, "raw tools", times.rawSeal);
  line("open", times.open, "raw on a copy", times.rawOnCopy);
  line("open", times.open, "raw in place", times.rawInPlace);
} finally {
  await Deno.remove(base, { recursive: true });
}
