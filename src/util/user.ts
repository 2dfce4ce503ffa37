/** The local account name: $USER, then $LOGNAME, then the passwd entry of the uid. */
export function localUser(): string {
  for (const name of ["USER", "LOGNAME"]) {
    try {
      const value = Deno.env.get(name);
      if (value) return value;
    } catch {
      // not granted
    }
  }
  const uid = Deno.uid();
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const [user, , id] = line.split(":");
      if (user && id === String(uid)) return user;
    }
  } catch {
    // no passwd file readable: fall through
  }
  return String(uid ?? "unknown");
}

/** Valid POSIX-ish account and job names: also what goes into Vault paths. */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
