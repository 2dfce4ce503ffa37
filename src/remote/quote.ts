/**
 * Remote commands are shell strings by nature (SSH runs them with the login
 * shell). They are built only from constant text, values quoted with `sh()`,
 * and names that passed `remoteName()` / paths that passed `remotePath()`.
 */
import { inputError, q } from "../util/errors.ts";

/** Strict POSIX single-quoting: the value can only ever be one word. */
export function sh(value: string): string {
  if (value.includes("\0")) {
    throw inputError(`cannot pass ${q(value)} to a remote shell: contains NUL`);
  }
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** One path component sealbatch is willing to create remotely. */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+=@,-]{0,254}$/;

export function remoteName(name: string, what = "file name"): string {
  if (!NAME_RE.test(name) || name.includes("..")) {
    throw inputError(
      `refusing remote ${what} ${q(name)}: only letters, digits and _.+=@,- are allowed`,
      {
        hint: "rename the file; names travel through a remote shell",
      },
    );
  }
  return name;
}

/** An absolute remote path made of valid components. */
export function remotePath(path: string, what = "remote path"): string {
  if (!path.startsWith("/")) throw inputError(`invalid ${what} ${q(path)}: must be absolute`);
  const parts = path.split("/").filter((p) => p !== "");
  for (const part of parts) {
    if (!NAME_RE.test(part) || part.includes("..")) {
      throw inputError(
        `invalid ${what} ${q(path)}: component ${q(part)} has unexpected characters`,
      );
    }
  }
  return "/" + parts.join("/");
}

export function joinRemote(dir: string, ...names: string[]): string {
  return [dir.replace(/\/+$/, ""), ...names].join("/");
}
