/**
 * A second, private sshd for tests that must not disturb the shared test site
 * (killing sessions, other host keys, jump hosts, connection counting). It
 * serves the site's test user with the site's authorized key, on its own port
 * and host key, and logs at DEBUG1 to a file the test can read.
 */
import { tempDir } from "../_helpers/cli.ts";
import type { SiteEnv } from "./_site.ts";

export interface Sshd extends AsyncDisposable {
  port: number;
  pid: number;
  dir: string;
  /** "[127.0.0.1]:PORT ssh-ed25519 AAAA..." for a known_hosts file. */
  knownHostsLine: string;
  /** Its own known_hosts file holding exactly that line. */
  knownHosts: string;
  /** SHA256:... fingerprint of its host key. */
  fingerprint: string;
  log(): Promise<string>;
  /** Process ids of every process below the listener (one subtree per connection). */
  sessions(): Promise<number[][]>;
}

async function run(program: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function children(pid: number): Promise<number[]> {
  const out = await new Deno.Command("ps", { args: ["-o", "pid=", "--ppid", String(pid)] })
    .output();
  return new TextDecoder().decode(out.stdout).split(/\s+/).filter((s) => s).map(Number);
}

async function subtree(pid: number): Promise<number[]> {
  const all = [pid];
  for (const c of await children(pid)) all.push(...await subtree(c));
  return all;
}

export async function startSshd(
  env: SiteEnv,
  opts: {
    extraConfig?: string;
    /** RLIMIT_FSIZE of every session: a file upload stops at exactly this many bytes. */
    fileSizeLimit?: number;
  } = {},
): Promise<Sshd> {
  const tmp = await tempDir("sealbatch-sshd");
  const dir = tmp.path;
  await Deno.chmod(dir, 0o755);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_key`]);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      "ListenAddress 127.0.0.1",
      `Port ${port}`,
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      `AllowUsers ${env.SITE_USER}`,
      "AuthenticationMethods publickey",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin no",
      "AllowTcpForwarding yes",
      "X11Forwarding no",
      "LogLevel DEBUG1",
      "MaxSessions 100",
      "Subsystem sftp internal-sftp",
      opts.extraConfig ?? "",
      // The site's own Slurm, as its sshd sets it (each test site has its own cluster). After the
      // extra lines: sshd takes the first SetEnv only, and a test's own wins.
      env.SITE_SLURM_CONF ? `SetEnv SLURM_CONF=${env.SITE_SLURM_CONF}` : "",
    ].join("\n") + "\n",
  );
  const sshd = ["/usr/sbin/sshd", "-D", "-f", `${dir}/sshd_config`, "-E", `${dir}/sshd.log`];
  // prlimit execs sshd: the pid stays the listener's.
  const limited = opts.fileSizeLimit !== undefined
    ? ["prlimit", `--fsize=${opts.fileSizeLimit}`, ...sshd]
    : sshd;
  const child = new Deno.Command(limited[0]!, {
    args: limited.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (i > 100) {
        child.kill("SIGTERM");
        throw new Error(`sshd did not start: ${await stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const pub = (await Deno.readTextFile(`${dir}/host_key.pub`)).trim().split(" ");
  const knownHostsLine = `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}`;
  await Deno.writeTextFile(`${dir}/known_hosts`, knownHostsLine + "\n");
  const fingerprint = (await run("ssh-keygen", ["-lf", `${dir}/host_key.pub`])).split(" ")[1]!;
  return {
    port,
    pid: child.pid,
    dir,
    knownHostsLine,
    knownHosts: `${dir}/known_hosts`,
    fingerprint,
    log: () => Deno.readTextFile(`${dir}/sshd.log`),
    sessions: async () => Promise.all((await children(child.pid)).map(subtree)),
    async [Symbol.asyncDispose]() {
      // The listener first, then whatever sessions are still open below it.
      const rest = (await Promise.all((await children(child.pid)).map(subtree))).flat();
      child.kill("SIGTERM");
      await child.status;
      await stderr;
      for (const pid of rest) {
        try {
          Deno.kill(pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      await tmp[Symbol.asyncDispose]();
    },
  };
}
