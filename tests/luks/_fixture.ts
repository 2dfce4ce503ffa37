/**
 * Shared pieces of the data container tests: a sample tree, a snapshot of a
 * tree (types, modes, sizes, content hashes, link targets) to compare round
 * trips, and an environment whose private storage the test can watch.
 */
import { runCli } from "../_helpers/cli.ts";
import type { CliResult } from "../_helpers/cli.ts";
import { sha256File } from "../../src/util/files.ts";

export const isRoot = Deno.uid() === 0;

export interface Node {
  type: "dir" | "file" | "symlink";
  mode: number;
  size: number;
  sha?: string;
  target?: string;
}

/** Everything below `root`, never following symlinks. */
export async function snapshot(root: string): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      const key = rel ? `${rel}/${e.name}` : e.name;
      const info = await Deno.lstat(path);
      if (info.isSymlink) {
        out.set(key, { type: "symlink", mode: 0, size: 0, target: await Deno.readLink(path) });
      } else if (info.isDirectory) {
        out.set(key, { type: "dir", mode: info.mode! & 0o7777, size: 0 });
        await walk(path, key);
      } else {
        out.set(key, {
          type: "file",
          mode: info.mode! & 0o7777,
          size: info.size,
          sha: await sha256File(path),
        });
      }
    }
  };
  await walk(root, "");
  return out;
}

/** A small tree with nested dirs, an empty file, unicode names, modes and symlinks. */
export async function sampleTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/a/b/c`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/b/c/deep.txt`, "deep\n");
  await Deno.writeFile(`${root}/empty`, new Uint8Array());
  await Deno.writeTextFile(`${root}/Grüße — 日本語.txt`, "unicode name\n");
  await Deno.writeTextFile(`${root}/run.sh`, "#!/bin/sh\necho hi\n");
  await Deno.chmod(`${root}/run.sh`, 0o750);
  await Deno.writeTextFile(`${root}/private.txt`, "only me\n");
  await Deno.chmod(`${root}/private.txt`, 0o600);
  await Deno.chmod(`${root}/a/b`, 0o711);
  await Deno.symlink("a/b/c/deep.txt", `${root}/link-inside`);
  await Deno.symlink("/etc/hostname", `${root}/link-outside`);
}

/** Run the CLI with private storage in `runtime` so the test can check it is left empty. */
export function cli(args: string[], runtime: string, extra: Record<string, string> = {}) {
  return runCli(args, { env: { XDG_RUNTIME_DIR: runtime, ...extra } });
}

/** Names in `dir`, sorted (for "nothing was left behind" checks). */
export async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

export async function sealSample(
  base: string,
): Promise<{ src: string; img: string; key: string; runtime: string; sealed: CliResult }> {
  const src = `${base}/src`;
  const runtime = `${base}/runtime`;
  await Deno.mkdir(src);
  await Deno.mkdir(runtime, { mode: 0o700 });
  await sampleTree(src);
  const img = `${base}/data.img`;
  const sealed = await cli(["data", "seal", src, "--out", img, "--headroom", "8"], runtime);
  return { src, img, key: `${base}/data.key`, runtime, sealed };
}
