/**
 * What `sealbatch --version` prints: the version, the commit and date of the
 * build (written into build_info.json by scripts/build.ts for the binary and
 * the bundle; read from the checkout's .git when run from source) and the
 * Deno it runs on. The version comes first, alone in its word, for scripts.
 */
import denoJson from "../../deno.json" with { type: "json" };
import build from "./build_info.json" with { type: "json" };

export interface VersionInfo {
  version: string;
  commit?: string;
  /** Build date (binary and bundle only). */
  date?: string;
  deno: string;
  target: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    return undefined;
  }
}

/** HEAD's commit of the checkout at `root` (worktrees included), without running git. */
async function checkoutCommit(root: string): Promise<string | undefined> {
  let gitDir = `${root}/.git`;
  const pointer = await readText(gitDir);
  if (pointer?.startsWith("gitdir: ")) gitDir = pointer.slice(8);
  const head = await readText(`${gitDir}/HEAD`);
  if (!head) return undefined;
  if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : undefined;
  const ref = head.slice(5);
  const common = await readText(`${gitDir}/commondir`);
  const commonDir = common ? (common.startsWith("/") ? common : `${gitDir}/${common}`) : gitDir;
  for (const dir of [gitDir, commonDir]) {
    const id = await readText(`${dir}/${ref}`);
    if (id && /^[0-9a-f]{40}$/.test(id)) return id;
  }
  const packed = await readText(`${commonDir}/packed-refs`);
  return packed?.split("\n").find((l) => l.endsWith(` ${ref}`))?.slice(0, 40);
}

export async function versionInfo(): Promise<VersionInfo> {
  const here = new URL("../../", import.meta.url);
  const commit = build.commit ??
    (here.protocol === "file:"
      ? await checkoutCommit(here.pathname.replace(/\/$/, ""))
      : undefined);
  return {
    version: denoJson.version,
    ...(commit ? { commit: commit.slice(0, 12) } : {}),
    ...(build.date ? { date: build.date } : {}),
    deno: Deno.version.deno,
    target: Deno.build.target,
  };
}

export function versionText(v: VersionInfo): string {
  const from = v.commit
    ? `commit ${v.commit}${v.date ? `, built ${v.date}` : ", from source"}`
    : "commit unknown";
  return `${v.version} (${from}; Deno ${v.deno}, ${v.target})`;
}
