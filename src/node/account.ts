/** Local accounts on the node, looked up with `getent passwd` (NSS, so LDAP users too). */
import { exec } from "../util/exec.ts";
import { q, refusal } from "../util/errors.ts";
import { NAME_RE } from "../util/user.ts";

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** argv that runs `program args` as `account`: through setpriv when we are root, else as we are. */
export function asAccount(account: Account, program: string, args: string[]): [string, string[]] {
  if (Deno.uid() !== 0 || account.uid === 0) return [program, args];
  return [
    "setpriv",
    [`--reuid=${account.uid}`, `--regid=${account.gid}`, "--init-groups", "--", program, ...args],
  ];
}

/** `who` is an account name or a numeric uid; an unknown account is a refusal. */
export async function lookupAccount(who: string): Promise<Account> {
  if (!NAME_RE.test(who)) throw refusal(`invalid account name ${q(who)}`);
  const out = await exec("getent", ["passwd", who], {
    what: `looking up account ${q(who)}`,
    okCodes: [0, 2],
  });
  const fields = out.text.split("\n")[0]?.split(":") ?? [];
  const [name, , uid, gid, , home] = fields;
  if (out.code === 2 || name === undefined || uid === undefined || gid === undefined) {
    throw refusal(`no account ${q(who)} on this node`);
  }
  return { name, uid: Number(uid), gid: Number(gid), home: home || "/" };
}
