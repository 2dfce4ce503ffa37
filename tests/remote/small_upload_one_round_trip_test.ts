/**
 * Files below SMALL_FILE go in one remote command: over the ssh2 connection
 * (below SMALL_VIA_OPENSSH) or one OpenSSH command, never the three round
 * trips of the resumable path. Each stores and verifies the file, reports an
 * identical target as unchanged and replaces a stale partial; bytes that
 * arrive changed are refused with nothing left behind; key material is
 * refused before any command runs at all.
 */
import assert from "node:assert/strict";
import { RemoteSite } from "../../src/remote/connection.ts";
import { SMALL_FILE, SMALL_VIA_OPENSSH, Transfers } from "../../src/remote/transfer.ts";
import { SealbatchError } from "../../src/util/errors.ts";
import { sha256File } from "../../src/util/files.ts";
import { tempDir } from "../_helpers/cli.ts";
import { connection, scratchName, SITE_SKIP, siteEnv } from "./_site.ts";

function random(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) {
    crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)));
  }
  return data;
}

/**
 * Taps the transfer host's commands: each is recorded, and `tamper` may alter
 * its stdin on the way. `exec` and `list` go around the tap (the login and
 * transfer host are one here).
 */
function tap(site: RemoteSite) {
  const exec = site.transfer.exec.bind(site.transfer);
  const t = {
    calls: [] as { command: string; stdin: number }[],
    tamper: undefined as ((b: Uint8Array) => Uint8Array) | undefined,
    exec,
    list: async (dir: string) =>
      (await exec(`ls -A ${dir} 2>/dev/null`)).stdout.split("\n").filter(Boolean).sort(),
    [Symbol.dispose]: () => (site.transfer.exec = exec),
  };
  site.transfer.exec = (command: string, opts: { stdin?: Uint8Array } = {}) => {
    t.calls.push({ command, stdin: opts.stdin?.length ?? 0 });
    const stdin = opts.stdin && t.tamper ? t.tamper(opts.stdin) : opts.stdin;
    return exec(command, stdin ? { stdin } : {});
  };
  return t;
}

/** A tamper that flips one bit of the byte at `at(length)`. */
const flip = (at: (length: number) => number) => (b: Uint8Array) => {
  const c = b.slice();
  c[at(c.length)]! ^= 1;
  return c;
};

Deno.test({
  name: "small uploads: one round trip, verified; changed bytes and key material refused",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir();
    await using site = await RemoteSite.connect(connection(env, { bulk: "openssh" }));
    await using transfers = await Transfers.open(site);
    const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("small")}`;

    // Count the commands on the ssh2 connection; optionally alter the bytes on their way.
    using t = tap(site);
    const { calls, exec } = t;
    const list = async () => (await t.list(remoteDir)).join(" ");
    const remoteHash = async (name: string) =>
      (await exec(`sha256sum ${remoteDir}/${name}`)).stdout.split(" ")[0];

    try {
      await exec(`mkdir -p ${remoteDir}`);
      // Both transports: [size, ssh2 commands one upload makes].
      for (const [size, viaSsh2] of [[SMALL_VIA_OPENSSH - 1, 1], [SMALL_FILE - 1, 0]] as const) {
        const name = `f${size}.img`;
        const local = `${tmp.path}/${name}`;
        await Deno.writeFile(local, random(size));
        const want = await sha256File(local);
        // A stale partial (as an interrupted large upload leaves one) is replaced.
        await exec(`printf junk > ${remoteDir}/.${name}.sealbatch-part`);
        calls.length = 0;
        let last = 0;
        const up = await transfers.upload(local, remoteDir, {
          onProgress: (p) => (last = p.done),
        });
        assert.deepEqual(calls.map((c) => c.stdin), viaSsh2 ? [size] : [], `${size}: one command`);
        assert.deepEqual(
          [up.size, up.sha256, up.unchanged, up.resumedFrom],
          [size, want, false, 0],
        );
        assert.equal(last, size);
        assert.equal(await remoteHash(name), want);
        assert.doesNotMatch(await list(), /sealbatch-part/, "no temporary name left");
        // The same bytes again: nothing stored anew, and a stale partial beside the target is
        // removed, never placed over it.
        await exec(`printf junk > ${remoteDir}/.${name}.sealbatch-part`);
        calls.length = 0;
        assert.equal((await transfers.upload(local, remoteDir)).unchanged, true);
        assert.equal(calls.length, viaSsh2);
        assert.equal(await remoteHash(name), want);
        assert.doesNotMatch(await list(), /sealbatch-part/, "the stale partial was left");
      }

      // Bytes changed on their way: refused by the remote check, old target kept, no partial.
      const name = `f${SMALL_VIA_OPENSSH - 1}.img`;
      const before = await remoteHash(name);
      await Deno.writeFile(`${tmp.path}/${name}`, random(SMALL_VIA_OPENSSH - 1));
      t.tamper = flip((n) => n >> 1);
      await assert.rejects(
        transfers.upload(`${tmp.path}/${name}`, remoteDir),
        (err) =>
          err instanceof SealbatchError && err.kind === "remote" &&
          /verification failed: remote has \d+ bytes, sha256 [0-9a-f]{64}, sent/.test(err.message),
      );
      t.tamper = undefined;
      assert.doesNotMatch(await list(), /sealbatch-part/);
      assert.equal(await remoteHash(name), before, "the earlier target is kept");

      // Key material in a small file: refused before any command runs.
      const listed = await list();
      calls.length = 0;
      const key = `${tmp.path}/notes.txt`;
      await Deno.writeFile(
        key,
        new TextEncoder().encode("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"),
      );
      await assert.rejects(
        transfers.upload(key, remoteDir),
        (err) => err instanceof SealbatchError && err.kind === "refused",
      );
      assert.deepEqual(calls, [], "no command, no byte sent");
      assert.equal(await list(), listed);
    } finally {
      await site.login.exec(`rm -rf -- ${remoteDir}`);
    }
  },
});

Deno.test({
  name:
    "uploadMany: a job's small files go in one command, the last placed last; one bad file keeps them all out",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir();
    await using site = await RemoteSite.connect(connection(env, { bulk: "sftp" }));
    await using transfers = await Transfers.open(site);
    const remoteDir = `${env.SITE_REMOTE_DIR}/${scratchName("batch")}`;
    using t = tap(site);
    const { calls, exec } = t;
    const list = () => t.list(remoteDir);
    try {
      const names = ["input.img", "empty.txt", "run.sh.sig", "run.sh"];
      const sizes = [300_000, 0, 500, 4000];
      const files = names.map((name) => ({ local: `${tmp.path}/${name}`, dir: remoteDir }));
      for (const [i, f] of files.entries()) await Deno.writeFile(f.local, random(sizes[i]!));

      // Changed on the way (a byte of the last file): nothing is placed, nothing left behind.
      t.tamper = flip((n) => n - 1);
      await assert.rejects(
        transfers.uploadMany(files),
        (err) =>
          err instanceof SealbatchError && err.kind === "remote" &&
          /run\.sh.*verification failed/.test(err.message),
      );
      t.tamper = undefined;
      assert.deepEqual(await list(), [], "a file was placed although the batch failed");

      calls.length = 0;
      const up = await transfers.uploadMany(files);
      assert.equal(calls.length, 1, "one command for all four");
      assert.deepEqual(up.map((u) => u.size), sizes);
      for (const [i, u] of up.entries()) {
        assert.equal(u.sha256, await sha256File(files[i]!.local));
        assert.equal(
          (await exec(`sha256sum ${remoteDir}/${names[i]}`)).stdout.split(" ")[0],
          u.sha256,
        );
      }
      assert.deepEqual(await list(), [...names].sort());
      // The last file is renamed after all the others: no change time is later than its.
      const ctimes = new Map(
        (await exec(`stat -c '%n|%z' ${names.map((n) => `${remoteDir}/${n}`).join(" ")}`)).stdout
          .trim().split("\n").map((
            l,
          ) => [l.slice(l.lastIndexOf("/") + 1, l.indexOf("|")), l.slice(l.indexOf("|") + 1)]),
      );
      for (const n of names) {
        assert.ok(ctimes.get("run.sh")! >= ctimes.get(n)!, [...ctimes].join("; "));
      }

      // Again: every target already holds these bytes.
      const again = await transfers.uploadMany(files);
      assert.deepEqual(again.map((u) => u.unchanged), [true, true, true, true]);
    } finally {
      await site.login.exec(`rm -rf -- ${remoteDir}`);
    }
  },
});

Deno.test({
  name: "uploads handed in while one runs share the next command; each group stands or fails alone",
  ignore: SITE_SKIP !== false,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await siteEnv();
    await using tmp = await tempDir();
    await using site = await RemoteSite.connect(connection(env, { bulk: "sftp" }));
    await using transfers = await Transfers.open(site);
    const base = `${env.SITE_REMOTE_DIR}/${scratchName("groups")}`;
    using t = tap(site);
    const { calls, exec, list } = t;
    try {
      // Four jobs' files (a.img, run.sh each), handed in at once.
      const jobs = ["j1", "j2", "j3", "j4"].map((job, n) => ({
        dir: `${base}/${job}`,
        files: ["a.img", "run.sh"].map((name) => ({
          local: `${tmp.path}/${job}-${name}`,
          dir: `${base}/${job}`,
          name,
        })),
        size: 1000 * (n + 1),
      }));
      for (const j of jobs) {
        for (const f of j.files) await Deno.writeFile(f.local, random(j.size));
      }
      const up = await Promise.all(jobs.map((j) => transfers.uploadMany(j.files)));
      assert.ok(calls.length < jobs.length, `${calls.length} commands for ${jobs.length}`);
      for (const [n, j] of jobs.entries()) {
        assert.deepEqual(up[n]!.map((u) => u.size), [j.size, j.size]);
        assert.deepEqual(await list(j.dir), ["a.img", "run.sh"]);
      }

      // Changed on the way: the last byte of the whole stream belongs to j4's run.sh.
      for (const j of jobs) await exec(`rm -rf ${j.dir}`);
      for (const j of jobs) {
        for (const f of j.files) await Deno.writeFile(f.local, random(j.size));
      }
      calls.length = 0;
      t.tamper = flip((n) => n - 1);
      const settled = await Promise.allSettled(jobs.map((j) => transfers.uploadMany(j.files)));
      t.tamper = undefined;
      // Each command's last group is the one hit; every other group is placed whole.
      for (const [n, s] of settled.entries()) {
        const placed = await list(jobs[n]!.dir);
        if (s.status === "rejected") {
          assert.match(String(s.reason), /run\.sh.*verification failed/);
          assert.deepEqual(placed, [], "a failed group left files behind");
        } else {
          assert.deepEqual(placed, ["a.img", "run.sh"]);
        }
      }
      assert.equal(settled.filter((s) => s.status === "rejected").length, calls.length);
    } finally {
      await site.login.exec(`rm -rf -- ${base}`);
    }
  },
});
