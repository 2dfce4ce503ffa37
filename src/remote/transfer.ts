/**
 * Verified transfers. Bytes go to a temporary name next to the target; the
 * target appears (atomic rename) only after the size and SHA-256 computed on
 * the receiving side match the sender's. An interrupted transfer leaves its
 * temporary file and the next attempt continues from its length; the final
 * hash covers the whole file, so a bad prefix is caught and redone.
 */
import { createHash, type Hash } from "node:crypto";
import { Buffer } from "node:buffer";
import { basename, dirname } from "node:path";
import { inputError, q, reason, refusal, SealbatchError } from "../util/errors.ts";
import { exists } from "../util/files.ts";
import type { RemoteSite } from "./connection.ts";
import { OpenSshMover } from "./openssh.ts";
import { joinRemote, remoteName, remotePath, sh } from "./quote.ts";
import type { Ssh2Sftp } from "./ssh2_api.ts";

export interface TransferProgress {
  file: string;
  done: number;
  total: number;
}

export interface TransferOptions {
  onProgress?: (p: TransferProgress) => void;
}

export interface TransferResult {
  /** Remote path (upload) or local path (download). */
  path: string;
  size: number;
  sha256: string;
  /** Bytes that were already there from an interrupted attempt. */
  resumedFrom: number;
  /** The target already held exactly these bytes; nothing was sent. */
  unchanged: boolean;
  via: "openssh" | "sftp";
}

const CHUNK = 1 << 20;
const PART_SUFFIX = ".sealbatch-part";

// ---------------------------------------------------------------- key material

const KEY_NAME_RE =
  /(\.key|\.pem|\.p12|\.pfx|\.gpg-key|\.sec\.asc|^id_(rsa|dsa|ecdsa|ed25519)(_sk)?)$/i;
const KEY_MARKERS = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "-----BEGIN PGP PRIVATE KEY BLOCK-----",
  "PRIVATE KEY-----", // RSA/EC/ENCRYPTED/plain PKCS#8 PEM blocks
  "openssh-key-v1\0",
];
const MARKER_TAIL = Math.max(...KEY_MARKERS.map((m) => m.length));

/** Scans a byte stream for private-key markers, across chunk boundaries. */
class KeyScanner {
  #tail = "";
  #decoder = new TextDecoder("latin1");
  found: string | undefined;

  push(chunk: Uint8Array): void {
    if (this.found) return;
    const text = this.#tail + this.#decoder.decode(chunk, { stream: true });
    this.found = KEY_MARKERS.find((m) => text.includes(m));
    this.#tail = text.slice(-MARKER_TAIL);
  }
}

function keyMaterialRefusal(path: string, why: string): SealbatchError {
  return refusal(`refusing to upload ${q(path)}: it looks like key material (${why})`, {
    hint: "keys travel only to the key service, never to the cluster",
  });
}

/** Refuse by name before any byte moves; content is scanned while sending. */
export function refuseKeyName(path: string): void {
  if (KEY_NAME_RE.test(basename(path))) throw keyMaterialRefusal(path, "file name");
}

// ---------------------------------------------------------------- byte movers

interface Mover {
  kind: "openssh" | "sftp";
  /** Write `data` to `remoteTmp`, appending when `offset` > 0. */
  send(data: ReadableStream<Uint8Array>, remoteTmp: string, offset: number): Promise<void>;
  /** Stream `remote` from `offset` up to `size` into `sink`. */
  receive(
    remote: string,
    offset: number,
    sink: WritableStream<Uint8Array>,
    size: number,
  ): Promise<void>;
  close(): Promise<void>;
}

class OpenSshBytes implements Mover {
  kind = "openssh" as const;
  constructor(private ssh: OpenSshMover) {}
  async send(data: ReadableStream<Uint8Array>, tmp: string, offset: number): Promise<void> {
    await this.ssh.run(`umask 077 && cat ${offset > 0 ? ">>" : ">"} ${sh(tmp)}`, { stdin: data });
  }
  async receive(remote: string, offset: number, sink: WritableStream<Uint8Array>): Promise<void> {
    await this.ssh.run(
      offset > 0 ? `tail -c +${offset + 1} -- ${sh(remote)}` : `cat -- ${sh(remote)}`,
      { stdoutTo: sink },
    );
  }
  close(): Promise<void> {
    return this.ssh.close();
  }
}

/** ssh2 SFTP with several requests in flight (sequential requests are latency-bound). */
class SftpBytes implements Mover {
  kind = "sftp" as const;
  constructor(private sftp: Ssh2Sftp) {}

  #open(path: string, flags: string): Promise<Uint8Array> {
    return new Promise((res, rej) =>
      this.sftp.open(path, flags, { mode: 0o600 }, (e, h) => e ? rej(e) : res(h))
    );
  }
  #closeHandle(h: Uint8Array): Promise<void> {
    return new Promise((res, rej) => this.sftp.close(h, (e) => e ? rej(e) : res()));
  }

  async send(data: ReadableStream<Uint8Array>, tmp: string, offset: number): Promise<void> {
    const handle = await this.#open(tmp, offset > 0 ? "r+" : "w");
    const inflight = new Set<Promise<void>>();
    let pos = offset;
    try {
      for await (const chunk of data) {
        for (let i = 0; i < chunk.length; i += 32768) {
          // ssh2 insists on node Buffers (views, no copy).
          const part = Buffer.from(
            chunk.buffer,
            chunk.byteOffset + i,
            Math.min(32768, chunk.length - i),
          );
          const at = pos;
          pos += part.length;
          const p: Promise<void> = new Promise<void>((res, rej) =>
            this.sftp.write(handle, part, 0, part.length, at, (e) => e ? rej(e) : res())
          ).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= 32) await Promise.race(inflight);
        }
      }
      await Promise.all(inflight);
    } finally {
      await this.#closeHandle(handle).catch(() => {});
    }
  }

  /** Read exactly `len` bytes at `at` (fewer only at end of file). */
  async #read(handle: Uint8Array, at: number, len: number): Promise<Uint8Array> {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = await new Promise<number>((res, rej) =>
        this.sftp.read(handle, buf, got, len - got, at + got, (e, bytes) => e ? rej(e) : res(bytes))
      ).catch((e: Error & { code?: number }) => {
        if (e.code === 1) return 0; // SSH_FX_EOF
        throw e;
      });
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  async receive(
    remote: string,
    offset: number,
    sink: WritableStream<Uint8Array>,
    size: number,
  ): Promise<void> {
    const handle = await this.#open(remote, "r");
    const writer = sink.getWriter();
    try {
      // Up to 16 reads in flight, written in order.
      const pending: Promise<Uint8Array>[] = [];
      let next = offset;
      const issue = () => {
        const len = Math.min(65536, size - next);
        pending.push(this.#read(handle, next, len));
        next += len;
      };
      while (next < size && pending.length < 16) issue();
      while (pending.length > 0) {
        const chunk = await pending.shift()!;
        if (next < size) issue();
        await writer.write(chunk);
      }
      await writer.close();
    } finally {
      await this.#closeHandle(handle).catch(() => {});
    }
  }

  close(): Promise<void> {
    this.sftp.end();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------- transfers

function passThrough(hash: Hash, onBytes: (n: number) => void, scanner?: KeyScanner, path = "") {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      hash.update(chunk);
      if (scanner) {
        scanner.push(chunk);
        if (scanner.found) {
          return ctl.error(
            keyMaterialRefusal(path, `contains ${q(scanner.found.replace("\0", ""))}`),
          );
        }
      }
      onBytes(chunk.length);
      ctl.enqueue(chunk);
    },
  });
}

/** Hash (and scan) the first `length` bytes of a file; used for a resumed prefix. */
async function hashPrefix(
  path: string,
  length: number,
  hash: Hash,
  scanner?: KeyScanner,
): Promise<void> {
  if (length === 0) return;
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(CHUNK);
    let left = length;
    while (left > 0) {
      const n = await file.read(buf.subarray(0, Math.min(left, buf.length)));
      if (n === null) break;
      hash.update(buf.subarray(0, n));
      scanner?.push(buf.subarray(0, n));
      left -= n;
    }
  } finally {
    file.close();
  }
}

async function fileFrom(path: string, offset: number): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
  return file.readable;
}

function parseSizeHash(text: string, what: string): { size: number; sha256: string } | undefined {
  const m = /^(\d+) ([0-9a-f]{64})$/m.exec(text);
  if (!m) return undefined;
  const size = Number(m[1]);
  if (!Number.isSafeInteger(size)) {
    throw new SealbatchError("remote", `${what}: odd size ${q(m[1])}`);
  }
  return { size, sha256: m[2]! };
}

const SIZE_HASH = (path: string) =>
  `s=$(stat -c %s -- ${sh(path)}) && h=$(sha256sum -- ${
    sh(path)
  }) && printf '%s %s\\n' "$s" "\${h%% *}"`;

/** Moves files between this machine and one site over its transfer host. */
export class Transfers implements AsyncDisposable {
  #site: RemoteSite;
  #mover: Mover;

  private constructor(site: RemoteSite, mover: Mover) {
    this.#site = site;
    this.#mover = mover;
  }

  static async open(site: RemoteSite): Promise<Transfers> {
    const mode = site.settings.bulk ?? "auto";
    if (mode !== "sftp") {
      try {
        return new Transfers(
          site,
          new OpenSshBytes(await OpenSshMover.create(site.settings, site.transfer)),
        );
      } catch (err) {
        if (mode === "openssh") throw err;
      }
    }
    return new Transfers(site, new SftpBytes(await site.transfer.sftp()));
  }

  get via(): "openssh" | "sftp" {
    return this.#mover.kind;
  }

  async #sh(command: string, what: string): Promise<string> {
    const r = await this.#site.transfer.exec(command);
    if (r.code !== 0) {
      throw new SealbatchError(
        "remote",
        `${what}: ${r.stderr.trim().split("\n").pop() || `exit status ${r.code}`}`,
      );
    }
    return r.stdout;
  }

  /** Upload `local` as `remoteDir/name` (name defaults to the local base name). */
  async upload(
    local: string,
    remoteDir: string,
    opts: TransferOptions & { name?: string } = {},
  ): Promise<TransferResult> {
    const name = remoteName(opts.name ?? basename(local));
    const dir = remotePath(remoteDir);
    refuseKeyName(local);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(local);
    } catch (err) {
      throw inputError(`cannot upload ${q(local)}: ${reason(err)}`);
    }
    if (!info.isFile) throw inputError(`cannot upload ${q(local)}: not a regular file`);
    const size = info.size;
    const target = joinRemote(dir, name);
    const tmp = joinRemote(dir, `.${name}${PART_SUFFIX}`);
    const what = `cannot upload ${q(local)} to ${q(target)}`;

    // One round trip: create the directory, report an existing target and a partial upload.
    const state = await this.#sh(
      `umask 077 && mkdir -p -- ${sh(dir)} && ` +
        `if [ -f ${sh(target)} ] && [ "$(stat -c %s -- ${sh(target)})" = ${size} ]; then ${
          SIZE_HASH(target)
        }; fi; ` +
        `echo "part $(stat -c %s -- ${sh(tmp)} 2>/dev/null || echo 0)"`,
      what,
    );
    const existing = parseSizeHash(state, what);
    let offset = Number(/^part (\d+)$/m.exec(state)?.[1] ?? "0");
    if (existing) {
      const hash = createHash("sha256");
      const scanner = new KeyScanner();
      await hashPrefix(local, size, hash, scanner);
      if (scanner.found) {
        throw keyMaterialRefusal(local, `contains ${q(scanner.found.replace("\0", ""))}`);
      }
      const sha256 = hash.digest("hex");
      if (existing.sha256 === sha256) {
        opts.onProgress?.({ file: local, done: size, total: size });
        return {
          path: target,
          size,
          sha256,
          resumedFrom: 0,
          unchanged: true,
          via: this.#mover.kind,
        };
      }
    }
    if (!(offset <= size)) offset = 0;

    for (let attempt = 0;; attempt++) {
      const hash = createHash("sha256");
      const scanner = new KeyScanner();
      await hashPrefix(local, offset, hash, scanner);
      if (scanner.found) {
        throw keyMaterialRefusal(local, `contains ${q(scanner.found.replace("\0", ""))}`);
      }
      let done = offset;
      const progress = (n: number) => {
        done += n;
        opts.onProgress?.({ file: local, done, total: size });
      };
      const data = (await fileFrom(local, offset)).pipeThrough(
        passThrough(hash, progress, scanner, local),
      );
      try {
        await this.#mover.send(data, tmp, offset);
      } catch (err) {
        if (scanner.found) {
          await this.#site.transfer.exec(`rm -f -- ${sh(tmp)}`).catch(() => {});
          throw keyMaterialRefusal(local, `contains ${q(scanner.found.replace("\0", ""))}`);
        }
        throw err instanceof SealbatchError
          ? err
          : new SealbatchError("remote", `${what}: ${reason(err)}`);
      }
      const sha256 = hash.digest("hex");
      // Verify on the remote side and rename there, in one command.
      const r = await this.#site.transfer.exec(
        `${SIZE_HASH(tmp)} && [ "$s" = ${size} ] && [ "\${h%% *}" = ${sh(sha256)} ] && mv -f -- ${
          sh(tmp)
        } ${sh(target)}`,
      );
      if (r.code === 0) {
        return {
          path: target,
          size,
          sha256,
          resumedFrom: offset,
          unchanged: false,
          via: this.#mover.kind,
        };
      }
      const got = parseSizeHash(r.stdout, what);
      await this.#site.transfer.exec(`rm -f -- ${sh(tmp)}`).catch(() => {});
      if (offset > 0 && attempt === 0) {
        offset = 0; // the partial file was not a prefix of this file: start over once
        continue;
      }
      throw new SealbatchError(
        "remote",
        `${what}: verification failed: remote has ${
          got ? `${got.size} bytes, sha256 ${got.sha256}` : "no readable file"
        }, sent ${size} bytes, sha256 ${sha256}`,
        { hint: "the partial file was removed; run the upload again" },
      );
    }
  }

  /** Download `remote` to the local file `local` (never overwritten unless identical). */
  async download(
    remote: string,
    local: string,
    opts: TransferOptions = {},
  ): Promise<TransferResult> {
    const source = remotePath(remote);
    const what = `cannot download ${q(source)} to ${q(local)}`;
    const expected = parseSizeHash(await this.#sh(SIZE_HASH(source), what), what);
    if (!expected) {
      throw new SealbatchError(
        "remote",
        `${what}: the remote side did not report size and SHA-256`,
      );
    }
    const { size, sha256 } = expected;
    if (await exists(local)) {
      const hash = createHash("sha256");
      await hashPrefix(local, Number.MAX_SAFE_INTEGER, hash);
      if (hash.digest("hex") === sha256) {
        return {
          path: local,
          size,
          sha256,
          resumedFrom: 0,
          unchanged: true,
          via: this.#mover.kind,
        };
      }
      throw inputError(`${what}: a different file already exists there`, {
        hint: "remove it or choose another directory",
      });
    }
    await Deno.mkdir(dirname(local), { recursive: true });
    const tmp = `${dirname(local)}/.${basename(local)}${PART_SUFFIX}`;
    let offset = 0;
    try {
      const st = await Deno.lstat(tmp);
      if (st.isFile && st.size <= size) offset = st.size;
    } catch {
      // no partial download
    }
    for (let attempt = 0;; attempt++) {
      const hash = createHash("sha256");
      await hashPrefix(tmp, offset, hash);
      const file = await Deno.open(tmp, {
        write: true,
        create: true,
        truncate: offset === 0,
        mode: 0o600,
      });
      await file.seek(offset, Deno.SeekMode.Start);
      let done = offset;
      const counter = passThrough(hash, (n) => {
        done += n;
        opts.onProgress?.({ file: source, done, total: size });
      });
      const pumping = counter.readable.pipeTo(file.writable);
      try {
        await this.#mover.receive(source, offset, counter.writable, size);
        await pumping;
      } catch (err) {
        await pumping.catch(() => {});
        throw err instanceof SealbatchError
          ? err
          : new SealbatchError("remote", `${what}: ${reason(err)}`);
      }
      const got = hash.digest("hex");
      const st = await Deno.stat(tmp);
      if (got === sha256 && st.size === size) {
        if (await exists(local)) throw inputError(`${what}: it appeared meanwhile`);
        await Deno.rename(tmp, local);
        return {
          path: local,
          size,
          sha256,
          resumedFrom: offset,
          unchanged: false,
          via: this.#mover.kind,
        };
      }
      await Deno.remove(tmp).catch(() => {});
      if (offset > 0 && attempt === 0) {
        offset = 0;
        continue;
      }
      throw new SealbatchError(
        "remote",
        `${what}: verification failed: got ${st.size} bytes, sha256 ${got}; the remote side reported ${size} bytes, sha256 ${sha256}`,
      );
    }
  }

  async close(): Promise<void> {
    await this.#mover.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
