/** The local account name: $USER, then $LOGNAME, then the numeric uid. */
export function localUser(): string {
  for (const name of ["USER", "LOGNAME"]) {
    try {
      const value = Deno.env.get(name);
      if (value) return value;
    } catch {
      // not granted
    }
  }
  return String(Deno.uid() ?? "unknown");
}

/** Valid POSIX-ish account and job names: also what goes into Vault paths. */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
