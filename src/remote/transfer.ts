/**
 * Verified transfers. Bytes go to a temporary name next to the target; the
 * target appears (atomic rename) only after the size and SHA-256 computed on
 * the receiving side match the sender's. An interrupted transfer leaves its
 * temporary file and the next attempt continues from its length; the final
 * hash covers the whole file, so a bad prefix is caught and redone. A small
 * file (below SMALL_FILE) goes whole in one remote command instead, together
 * with the other small files of the same upload.
 */
import { createHash, type Hash } from "node:crypto";
import { Buffer } from "node:buffer";
import { basename, dirname } from "node:path";
import { inputError, q, reason, refusal, SealbatchError } from "../util/errors.ts";
import { Batcher } from "../util/batcher.ts";
import { exists } from "../util/files.ts";
import type { RemoteResult, RemoteSite } from "./connection.ts";
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
const enc = (s: string) => new TextEncoder().encode(s);
const MARKERS = [
  /** Every private PEM block (RSA, EC, PKCS#8, ENCRYPTED, OPENSSH) ends its BEGIN line so. */
  { name: "PRIVATE KEY-----", bytes: enc("PRIVATE KEY-----") },
  /** OpenPGP secret keys: "-----BEGIN PGP PRIVATE KEY BLOCK-----". */
  { name: "PRIVATE KEY BLOCK-----", bytes: enc("PRIVATE KEY BLOCK-----") },
  /** The binary (de-armored) OpenSSH private key format. */
  { name: "openssh-key-v1", bytes: enc("openssh-key-v1\0") },
];
const MARKER_TAIL = Math.max(...MARKERS.map((m) => m.bytes.length)) - 1;

/**
 * One Horspool pass finds all markers at once (the scan runs over every byte
 * sent, so its cost counts): windows as long as the shortest marker, shifted
 * by the smallest safe shift over all markers; a window is compared only with
 * the markers whose first WINDOW bytes end in the window's last byte.
 */
const WINDOW = Math.min(...MARKERS.map((m) => m.bytes.length));
const SHIFT = new Uint8Array(256).fill(WINDOW);
/** By byte: the markers whose first WINDOW bytes end with it. */
const ENDING = Array.from({ length: 256 }, () => [] as typeof MARKERS);
for (const marker of MARKERS) {
  const { bytes } = marker;
  for (let k = 0; k < WINDOW - 1; k++) {
    SHIFT[bytes[k]!] = Math.min(SHIFT[bytes[k]!]!, WINDOW - 1 - k);
  }
  ENDING[bytes[WINDOW - 1]!]!.push(marker);
}

function matchesAt(data: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at + pattern.length > data.length) return false;
  for (let k = 0; k < pattern.length; k++) if (data[at + k] !== pattern[k]) return false;
  return true;
}

/** The marker found in `data`, if any. */
function findKeyMarker(data: Uint8Array): string | undefined {
  for (let i = 0, last = data.length - WINDOW; i <= last;) {
    const b = data[i + WINDOW - 1]!;
    const candidates = ENDING[b]!;
    for (let c = 0; c < candidates.length; c++) {
      const m = candidates[c]!;
      if (data[i] === m.bytes[0] && matchesAt(data, i, m.bytes)) return m.name;
    }
    i += SHIFT[b]!;
  }
  return undefined;
}

/** Scans a byte stream for private-key markers, across chunk boundaries. */
export class KeyScanner {
  #tail = new Uint8Array(0);
  found: string | undefined;

  push(chunk: Uint8Array): void {
    if (this.found) return;
    // A marker split across the boundary lies within tail + the chunk's head.
    const edge = new Uint8Array(this.#tail.length + Math.min(chunk.length, MARKER_TAIL));
    edge.set(this.#tail);
    edge.set(chunk.subarray(0, MARKER_TAIL), this.#tail.length);
    this.found = findKeyMarker(edge) ?? findKeyMarker(chunk);
    const joined = chunk.length >= MARKER_TAIL ? chunk : edge;
    this.#tail = joined.slice(Math.max(0, joined.length - MARKER_TAIL));
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

interface MoverBase {
  /** Stream `remote` from `offset` up to `size` into `sink`. */
  receive(
    remote: string,
    offset: number,
    sink: WritableStream<Uint8Array>,
    size: number,
  ): Promise<void>;
  close(): Promise<void>;
}

/** Reads the local file itself; handed it only after all of it was scanned. */
interface FileMover extends MoverBase {
  kind: "openssh";
  /**
   * Send `local` from `offset` on into `remoteTmp` (kept up to `offset`),
   * reporting bytes as the receiving side gets them. A receiving side that
   * hashes while writing returns the file's size and SHA-256 (prefix included).
   */
  sendFile(
    local: string,
    offset: number,
    remoteTmp: string,
    onBytes: (n: number) => void,
    opts: { hashOnArrival: boolean },
  ): Promise<{ size: number; sha256: string } | undefined>;
  /** Run `command` with `data` as its stdin; exit status 0 or a throw. */
  put(command: string, data: Uint8Array): Promise<RemoteResult>;
}

/** Sends the bytes it is given (scanned and hashed chunk by chunk on their way). */
interface StreamMover extends MoverBase {
  kind: "sftp";
  /** Write `data` to `remoteTmp`, appending when `offset` > 0. */
  send(data: ReadableStream<Uint8Array>, remoteTmp: string, offset: number): Promise<void>;
}

type Mover = FileMover | StreamMover;

class OpenSshBytes implements FileMover {
  kind = "openssh" as const;
  constructor(private ssh: OpenSshMover) {}
  async sendFile(
    local: string,
    offset: number,
    tmp: string,
    onBytes: (n: number) => void,
    opts: { hashOnArrival: boolean },
  ): Promise<{ size: number; sha256: string } | undefined> {
    // The receiver's stdout: "+N" progress lines (bytes so far), then "SIZE HEX".
    let result: { size: number; sha256: string } | undefined;
    let reported = 0;
    let pending = "";
    const decoder = new TextDecoder();
    const line = (text: string) => {
      const m = /^\+(\d+)$/.exec(text);
      if (m && Number(m[1]) >= reported) {
        onBytes(Number(m[1]) - reported);
        reported = Number(m[1]);
      } else {
        result = parseSizeHash(text, `cannot upload to ${q(tmp)}`) ?? result;
      }
    };
    const sink = new WritableStream<Uint8Array>({
      write(chunk) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop()!;
        if (pending.length > 4096) throw new Error("odd output from the receiving side");
        lines.forEach(line);
      },
      close() {
        if (pending !== "") line(pending);
      },
    });
    await this.ssh.run(RECEIVE(tmp, offset, opts.hashOnArrival), {
      stdinFile: { path: local, offset },
      stdoutTo: sink,
    });
    return result;
  }
  async put(command: string, data: Uint8Array): Promise<RemoteResult> {
    const stdin = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(data);
        ctl.close();
      },
    });
    return { code: 0, stdout: await this.ssh.run(command, { stdin }), stderr: "" };
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

/**
 * ssh2 SFTP with several requests in flight (sequential requests are
 * latency-bound). Every request also ends when the channel closes: ssh2 does
 * not always answer outstanding callbacks when the connection dies.
 */
class SftpBytes implements StreamMover {
  kind = "sftp" as const;
  #sftp: Ssh2Sftp;
  #gone: Promise<never>;

  constructor(sftp: Ssh2Sftp) {
    this.#sftp = sftp;
    this.#gone = new Promise((_, reject) => {
      sftp.on("close", () => reject(new Error("the SFTP channel closed")));
    });
    this.#gone.catch(() => {});
  }

  #call<T>(start: (done: (err: Error | undefined, value: T) => void) => void): Promise<T> {
    const answer = new Promise<T>((res, rej) => start((e, v) => e ? rej(e) : res(v)));
    return Promise.race([answer, this.#gone]);
  }

  #open(path: string, flags: string): Promise<Uint8Array> {
    return this.#call((done) => this.#sftp.open(path, flags, { mode: 0o600 }, done));
  }

  #closeHandle(h: Uint8Array): Promise<void> {
    return this.#call((done) => this.#sftp.close(h, (e) => done(e, undefined)));
  }

  async send(data: ReadableStream<Uint8Array>, tmp: string, offset: number): Promise<void> {
    const handle = await this.#open(tmp, offset > 0 ? "r+" : "w");
    const inflight = new Set<Promise<void>>();
    let failed: Error | undefined;
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
          const p: Promise<void> = this.#call<void>((done) =>
            this.#sftp.write(handle, part, 0, part.length, at, (e) => done(e, undefined))
          ).catch((e: Error) => {
            failed ??= e;
          }).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= 32) await Promise.race(inflight);
          if (failed) throw failed;
        }
      }
      await Promise.all(inflight);
      if (failed) throw failed;
    } finally {
      await this.#closeHandle(handle).catch(() => {});
    }
  }

  /** Read exactly `len` bytes at `at` (fewer only at end of file). */
  async #read(handle: Uint8Array, at: number, len: number): Promise<Uint8Array> {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = await this.#call<number>((done) =>
        this.#sftp.read(handle, buf, got, len - got, at + got, done)
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
    // Up to 16 reads in flight, written in order.
    const pending: Promise<Uint8Array>[] = [];
    try {
      let next = offset;
      const issue = () => {
        const len = Math.min(65536, size - next);
        const read = this.#read(handle, next, len);
        read.catch(() => {}); // observed below, in order; never unhandled
        pending.push(read);
        next += len;
      };
      while (next < size && pending.length < 16) issue();
      while (pending.length > 0) {
        const chunk = await pending.shift()!;
        if (next < size) issue();
        await writer.write(chunk);
      }
      await writer.close();
    } catch (err) {
      await writer.abort(err).catch(() => {});
      throw err;
    } finally {
      await this.#closeHandle(handle).catch(() => {});
    }
  }

  close(): Promise<void> {
    this.#sftp.end();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------- transfers

/** Hashes downloaded bytes on their way to the file. */
function hashing(hash: Hash, onBytes: (n: number) => void) {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      hash.update(chunk);
      onBytes(chunk.length);
      ctl.enqueue(chunk);
    },
  });
}

/** Hash (and scan) the first `length` bytes of a file; used for a resumed prefix. */
async function hashPrefix(
  path: string,
  length: number,
  hash: Hash | undefined,
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
      hash?.update(buf.subarray(0, n));
      scanner?.push(buf.subarray(0, n));
      if (scanner?.found) break;
      left -= n;
    }
  } finally {
    file.close();
  }
}

/**
 * The file from `offset` in 1 MiB chunks, each hashed and scanned before it
 * is handed on (large chunks: per-call overhead dominates hashing at 64 KiB).
 */
async function uploadStream(
  path: string,
  offset: number,
  hash: Hash,
  scanner: KeyScanner,
  onBytes: (n: number) => void,
): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      const buf = new Uint8Array(CHUNK);
      let n = 0;
      while (n < CHUNK) {
        const got = await file.read(buf.subarray(n));
        if (got === null) break;
        n += got;
      }
      if (n === 0) {
        file.close();
        return ctl.close();
      }
      const chunk = buf.subarray(0, n);
      scanner.push(chunk);
      if (scanner.found) {
        file.close();
        return ctl.error(keyMaterialRefusal(path, `contains ${q(scanner.found)}`));
      }
      hash.update(chunk);
      onBytes(n);
      ctl.enqueue(chunk);
    },
    cancel() {
      file.close();
    },
  }, { highWaterMark: 2 });
}

/** The whole file if it has at most `size` bytes, as its stat said (it may have grown since). */
async function readAtMost(
  path: string,
  size: number,
  what: string,
): Promise<Uint8Array | undefined> {
  const limit = size + 1;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw inputError(`${what}: cannot read it: ${reason(err)}`);
  }
  try {
    const buf = new Uint8Array(limit);
    let n = 0;
    while (n < limit) {
      const got = await file.read(buf.subarray(n));
      if (got === null) return buf.subarray(0, n);
      n += got;
    }
    return undefined; // grown: the resumable path takes it
  } finally {
    file.close();
  }
}

function interrupted(failure: unknown, what: string): SealbatchError {
  return failure instanceof SealbatchError ? failure : new SealbatchError(
    "remote",
    `${what}: ${typeof failure === "string" ? failure : reason(failure)}`,
    { hint: "run the upload again; it continues where it stopped" },
  );
}

/** The "SIZE HEX" line a remote hash command prints (exported for the fuzz tests). */
export function parseSizeHash(
  text: string,
  what: string,
): { size: number; sha256: string } | undefined {
  const m = /^(\d+) ([0-9a-f]{64})$/m.exec(text);
  if (!m) return undefined;
  const size = Number(m[1]);
  if (!Number.isSafeInteger(size)) {
    throw new SealbatchError("remote", `${what}: odd size ${q(m[1])}`);
  }
  return { size, sha256: m[2]! };
}

/**
 * Size and SHA-256 of a remote file, as "SIZE HEX", in shell variables s and h.
 * OpenSSL uses the CPU's SHA extensions where coreutils' sha256sum does not
 * (about 3x faster here); sha256sum stays the fallback.
 */
const SIZE_HASH = (path: string) => `${SIZE_HASH_VARS(sh(path))} && printf '%s %s\\n' "$s" "$h"`;

/** SIZE_HASH without the output: s and h (bare hex) of the file the shell word `word` names. */
const SIZE_HASH_VARS = (word: string) =>
  `s=$(stat -c %s -- ${word}) && if command -v openssl >/dev/null 2>&1; ` +
  `then h=$(openssl dgst -sha256 -r ${word}); else h=$(sha256sum -- ${word}); fi && h=\${h%% *}`;

/**
 * Files below this size go in one remote command (PUT_BATCH), held in memory
 * (scanned and hashed before the first byte is sent): the three round trips
 * of the resumable path cost a fixed ~50 ms, more than sending a few MiB
 * takes. 8 MiB bounds the memory a cohort's concurrent uploads hold; from
 * there on the transfer time dominates and resuming is worth its round trips.
 */
export const SMALL_FILE = 8 << 20;
/**
 * From this size on a small file goes over OpenSSH (when that is the mover):
 * ssh2 encrypts on this process's one thread (~8 ms per MiB under Deno),
 * where an ssh process costs ~12 ms once and encrypts elsewhere.
 */
export const SMALL_VIA_OPENSSH = 1 << 20;

/**
 * The one-round-trip upload of small files, their bytes one after the other
 * on stdin, in groups (the uploads of several callers share one command).
 * Fixed text; the values (directories, and per file its group, target,
 * temporary name, size and SHA-256) are quoted by sh() into `set --`. Per
 * file, in order: a target already holding these bytes is kept ("unchanged",
 * a stale temporary file beside it removed);
 * else the next SIZE bytes go to the temporary name (GNU head reads no
 * further). One hash run covers every file received (each program start
 * costs more than hashing a few MiB); each is "ok", or "got SIZE HEX". A group
 * with no failed file has its temporary names renamed, in order, so its last
 * file appears after all its others; a group with one has all of them
 * removed. Exit status 0 then too: the OpenSSH mover takes any other for a
 * failed transfer. Names passed remoteName(), so each hash line is one line.
 */
const PUT_BATCH = (
  dirs: string[],
  files: { group: number; target: string; tmp: string; size: number; sha256: string }[],
) =>
  `umask 077 && mkdir -p -- ${dirs.map(sh).join(" ")} || exit 1\n` +
  `sums() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$@"; ` +
  `else sha256sum -- "$@"; fi; }\n` +
  `first() { h=\${1%% *} && h=\${h#\\\\}; }\n` +
  `kept=' ' bad=' ' report=\n` +
  `receive() {\n` +
  `  i=0\n` +
  `  while [ $# -gt 0 ]; do\n` +
  `    i=$((i + 1))\n` +
  `    if [ -f "$2" ] && [ "$(stat -c %s -- "$2")" = "$4" ] && first "$(sums "$2")" && ` +
  `[ "$h" = "$5" ]; then\n` +
  `      head -c "$4" >/dev/null; kept="$kept$i "; if [ -e "$3" ]; then rm -f -- "$3"; fi\n` +
  `    else\n` +
  `      head -c "$4" >"$3" || exit 1\n` +
  `    fi\n` +
  `    shift 5\n` +
  `  done\n` +
  `}\n` +
  // Turns the quintuples into the temporary names of the received files, then hashes those.
  `received() {\n` +
  `  n=$(($# / 5)) i=0\n` +
  `  while [ "$i" -lt "$n" ]; do\n` +
  `    i=$((i + 1)) p=$3\n` +
  `    shift 5\n` +
  `    case "$kept" in *" $i "*) ;; *) set -- "$@" "$p" ;; esac\n` +
  `  done\n` +
  `  if [ $# -gt 0 ]; then sums "$@"; fi\n` +
  `}\n` +
  `check() {\n` +
  `  i=0\n` +
  `  while [ $# -gt 0 ]; do\n` +
  `    i=$((i + 1))\n` +
  `    case "$kept" in\n` +
  `    *" $i "*) r=unchanged ;;\n` +
  `    *)\n` +
  `      IFS= read -r line <&3 || line=\n` +
  `      first "$line"\n` +
  `      if [ -n "$h" ] && [ "$h" = "$5" ]; then r=ok\n` +
  `      else\n` +
  `        bad="$bad$1 "\n` +
  `        if [ -n "$h" ] && [ -f "$3" ]; then r="got $(stat -c %s -- "$3") $h"; ` +
  `else r="got nothing"; fi\n` +
  `      fi ;;\n` +
  `    esac\n` +
  `    report="$report$r\n"\n` +
  `    shift 5\n` +
  `  done\n` +
  `}\n` +
  `place() {\n` +
  `  while [ $# -gt 0 ]; do\n` +
  `    case "$bad" in\n` +
  `    *" $1 "*) rm -f -- "$3" ;;\n` +
  `    *) [ ! -f "$3" ] || mv -f -- "$3" "$2" || exit 1 ;;\n` +
  `    esac\n` +
  `    shift 5\n` +
  `  done\n` +
  `}\n` +
  `set -- ${
    files.map((f) => `${f.group} ${sh(f.target)} ${sh(f.tmp)} ${f.size} ${sh(f.sha256)}`).join(" ")
  }\n` +
  `receive "$@"\n` +
  `check "$@" 3<<SEALBATCH_SUMS\n` +
  `$(received "$@")\n` +
  `SEALBATCH_SUMS\n` +
  `place "$@"\n` +
  `printf '%s' "$report"\n`;

/** Small files of one caller, read and checked, waiting for a PUT_BATCH. */
interface ReadGroup {
  files: { item: Upload; data: Uint8Array; sha256: string }[];
  opts: TransferOptions;
}

/** Bytes one PUT_BATCH holds in memory at most (several callers' small files). */
const BATCH_BYTES = 2 * SMALL_FILE;

/**
 * Writes stdin to the file argv[1] after its first argv[2] bytes and hashes
 * the whole file (that prefix read back, then every byte as it is written),
 * so verification needs no second pass over the file after the transfer.
 * Prints "+N" (bytes received so far) every 8 MiB, then "SIZE HEX". A 1 MiB
 * pipe from sshd saves most wake-ups. Fixed text: the path and the number
 * arrive only as arguments.
 */
const RECEIVER = `import hashlib, os, sys
path, offset = sys.argv[1], int(sys.argv[2])
try:
    import fcntl
    fcntl.fcntl(0, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
except Exception:
    pass
h = hashlib.sha256()
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
left = offset
while left > 0:
    b = os.read(fd, min(left, 1 << 20))
    if not b:
        break  # shorter than reported: the hash cannot match, the upload starts over
    h.update(b)
    left -= len(b)
os.ftruncate(fd, offset)
os.lseek(fd, offset, 0)
buf = bytearray(1 << 20)
view = memoryview(buf)
read = sys.stdin.buffer.raw.readinto
got = told = 0
while True:
    n = read(buf)
    if not n:
        break
    h.update(view[:n])
    done = 0
    while done < n:
        done += os.write(fd, view[done:n])
    got += n
    if got - told >= 8 << 20:
        told = got
        sys.stdout.write("+%d\\n" % got)
        sys.stdout.flush()
print(os.fstat(fd).st_size, h.hexdigest())
`;

/**
 * Receive stdin into `tmp` from `offset` on. With python3 on the receiving
 * side, hashing overlaps the transfer (hashlib uses OpenSSL, as SIZE_HASH
 * does); without it, or for a small file (where starting python costs more
 * than hashing afterwards), `cat` writes and the caller hashes the file then.
 */
const RECEIVE = (tmp: string, offset: number, hashOnArrival: boolean) => {
  const cat = `cat ${offset > 0 ? ">>" : ">"} ${sh(tmp)}`;
  return hashOnArrival
    ? `umask 077 && if command -v python3 >/dev/null 2>&1; then python3 -I -c ${sh(RECEIVER)} ${
      sh(tmp)
    } ${offset}; else ${cat}; fi`
    : `umask 077 && ${cat}`;
};

/** From this size on, the receiving side hashes while it writes (when it can). */
const HASH_ON_ARRIVAL = 32 << 20;

/** One file to upload, checked: where it goes and what it is. */
interface Upload {
  local: string;
  dir: string;
  target: string;
  tmp: string;
  what: string;
  info: Deno.FileInfo;
}

async function prepareUpload(local: string, remoteDir: string, as?: string): Promise<Upload> {
  const name = remoteName(as ?? basename(local));
  const dir = remotePath(remoteDir);
  refuseKeyName(local);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(local);
  } catch (err) {
    throw inputError(`cannot upload ${q(local)}: ${reason(err)}`);
  }
  if (!info.isFile) throw inputError(`cannot upload ${q(local)}: not a regular file`);
  const target = joinRemote(dir, name);
  return {
    local,
    dir,
    target,
    tmp: joinRemote(dir, `.${name}${PART_SUFFIX}`),
    what: `cannot upload ${q(local)} to ${q(target)}`,
    info,
  };
}

/** Moves files between this machine and one site over its transfer host. */
export class Transfers implements AsyncDisposable {
  #site: RemoteSite;
  #mover: Mover;
  #batches = new Batcher<ReadGroup, TransferResult[]>((groups) => this.#putBatch(groups), {
    fits: (batch, next) =>
      [...batch, next].reduce((n, g) => n + g.files.reduce((m, f) => m + f.data.length, 0), 0) <=
        BATCH_BYTES,
    // Two commands at a time: one sends while the other's bytes are hashed and placed.
    lanes: 2,
  });

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
    const [r] = await this.uploadMany([{
      local,
      dir: remoteDir,
      ...(opts.name ? { name: opts.name } : {}),
    }], opts);
    return r!;
  }

  /**
   * Upload several files (results in the same order). The last one is put in
   * place only after all the others are (a job directory with its run.sh is
   * complete). Small files go together in as few remote commands as their
   * total size allows (PUT_BATCH); larger ones side by side, each resumable.
   */
  async uploadMany(
    files: { local: string; dir: string; name?: string }[],
    opts: TransferOptions = {},
  ): Promise<TransferResult[]> {
    // Every name and file is checked before any byte is sent.
    const items: Upload[] = [];
    for (const f of files) items.push(await prepareUpload(f.local, f.dir, f.name));
    const results: TransferResult[] = new Array(items.length);
    const last = items.length - 1;
    const batches: number[][] = [];
    let total = 0;
    for (const [i, item] of items.entries()) {
      if (item.info.size >= SMALL_FILE) continue;
      if (batches.length === 0 || total + item.info.size >= SMALL_FILE) {
        batches.push([]);
        total = 0;
      }
      batches.at(-1)!.push(i);
      total += item.info.size;
    }
    const final = items[last] && items[last].info.size < SMALL_FILE ? batches.pop() : undefined;
    const batch = async (indices: number[]) => {
      // Through the batcher: other callers' small files may share the command.
      const done = await this.#batches.add(await this.#read(indices.map((i) => items[i]!), opts));
      indices.forEach((i, k) => (results[i] = done[k]!));
    };
    const one = async (i: number) => (results[i] = await this.#uploadLarge(items[i]!, opts));
    // Side by side: each transfer waits on round trips and hashing that the others fill.
    // All of them settle before an error is reported.
    const settled = await Promise.allSettled([
      ...items.flatMap((item, i) => (i !== last && item.info.size >= SMALL_FILE ? [one(i)] : [])),
      (async () => {
        for (const b of batches) await batch(b);
      })(),
    ]);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    if (final) await batch(final);
    else if (last >= 0) await one(last);
    return results;
  }

  /** One large file, resumable. */
  async #uploadLarge(item: Upload, opts: TransferOptions): Promise<TransferResult> {
    const { local, dir, target, tmp, what, info } = item;
    const size = info.size;
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
    if (!(offset <= size)) offset = 0;
    // An existing target: the whole file hashed (and scanned) to compare.
    let whole: string | undefined;
    if (existing) {
      const hash = createHash("sha256");
      const scanner = new KeyScanner();
      await hashPrefix(local, size, hash, scanner);
      if (scanner.found) {
        throw keyMaterialRefusal(local, `contains ${q(scanner.found)}`);
      }
      whole = hash.digest("hex");
      if (existing.sha256 === whole) {
        opts.onProgress?.({ file: local, done: size, total: size });
        return {
          path: target,
          size,
          sha256: whole,
          resumedFrom: 0,
          unchanged: true,
          via: this.#mover.kind,
        };
      }
    } else if (this.#mover.kind === "openssh") {
      // A mover that reads the file itself gets it only after all of it was
      // scanned: no byte leaves before the scan.
      const scanner = new KeyScanner();
      await hashPrefix(local, size, undefined, scanner);
      if (scanner.found) {
        throw keyMaterialRefusal(local, `contains ${q(scanner.found)}`);
      }
    }

    for (let attempt = 0;; attempt++) {
      let done = offset;
      const progress = (n: number) => {
        done += n;
        opts.onProgress?.({ file: local, done, total: size });
      };
      const sent = this.#mover.kind === "openssh"
        ? await this.#sendFile(
          this.#mover,
          local,
          offset,
          tmp,
          { sha256: whole, stat: info },
          progress,
          what,
        )
        : await this.#sendStream(this.#mover, local, offset, tmp, size, progress, what);
      const { sha256, received } = sent;
      // Verify on the remote side and rename there: the receiving side hashed
      // the bytes as they arrived (size rechecked at the rename), or it hashes
      // the file now.
      const r = received
        ? received.size === size && received.sha256 === sha256
          ? await this.#site.transfer.exec(
            `[ "$(stat -c %s -- ${sh(tmp)})" = ${size} ] && mv -f -- ${sh(tmp)} ${sh(target)}`,
          )
          : { code: 1, stdout: `${received.size} ${received.sha256}\n`, stderr: "" }
        : await this.#site.transfer.exec(
          `${SIZE_HASH(tmp)} && [ "$s" = ${size} ] && [ "$h" = ${sh(sha256)} ] && mv -f -- ${
            sh(tmp)
          } ${sh(target)}`,
        );
      if (r.code === 0) {
        if (done < size) progress(size - done);
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
        { hint: "the partial file was removed (or the local file changed); run the upload again" },
      );
    }
  }

  /**
   * Read small files for PUT_BATCH: each scanned and hashed here before any
   * byte is sent; the bytes sent are the ones scanned.
   */
  async #read(items: Upload[], opts: TransferOptions): Promise<ReadGroup> {
    const files: ReadGroup["files"] = [];
    for (const item of items) {
      const data = await readAtMost(item.local, item.info.size, item.what);
      if (data === undefined) {
        throw inputError(`${item.what}: it grew while it was being sent`, {
          hint: "upload it again once nothing writes to it",
        });
      }
      const scanner = new KeyScanner();
      scanner.push(data);
      if (scanner.found) throw keyMaterialRefusal(item.local, `contains ${q(scanner.found)}`);
      files.push({ item, data, sha256: createHash("sha256").update(data).digest("hex") });
    }
    return { files, opts };
  }

  /** Groups of small files in one round trip (PUT_BATCH); each group succeeds or fails alone. */
  async #putBatch(groups: ReadGroup[]): Promise<PromiseSettledResult<TransferResult[]>[]> {
    const sent = groups.flatMap((g, group) => g.files.map((f) => ({ ...f, group })));
    const script = PUT_BATCH(
      [...new Set(sent.map((f) => f.item.dir))],
      sent.map(({ item, data, sha256, group }) => ({
        group,
        target: item.target,
        tmp: item.tmp,
        size: data.length,
        sha256,
      })),
    );
    const stdin = Buffer.concat(sent.map((s) => s.data));
    const what = sent.length === 1 ? sent[0]!.item.what : `cannot upload ${sent.length} files`;
    const r = this.#mover.kind === "openssh" && stdin.length >= SMALL_VIA_OPENSSH
      ? await this.#mover.put(script, stdin).catch((err: unknown) => {
        throw interrupted(err, what);
      })
      : await this.#site.transfer.exec(script, { stdin });
    const said = r.stdout.split("\n").slice(0, -1);
    if (
      r.code !== 0 || said.length !== sent.length ||
      !said.every((l) => /^(unchanged|ok|got (nothing|\d+ [0-9a-f]{64}))$/.test(l))
    ) {
      throw new SealbatchError(
        "remote",
        `${what}: ${
          r.code !== 0
            ? r.stderr.trim().split("\n").pop() || `exit status ${r.code}`
            : `odd answer from the site ${q(r.stdout.slice(0, 200))}`
        }`,
      );
    }
    let at = 0;
    return groups.map((g) => {
      const answers = said.slice(at, at + g.files.length);
      at += g.files.length;
      const bad = answers.findIndex((l) => l.startsWith("got "));
      if (bad >= 0) {
        const got = parseSizeHash(answers[bad]!.slice(4), what);
        const f = g.files[bad]!;
        return {
          status: "rejected",
          reason: new SealbatchError(
            "remote",
            `${f.item.what}: verification failed: remote has ${
              got ? `${got.size} bytes, sha256 ${got.sha256}` : "no readable file"
            }, sent ${f.data.length} bytes, sha256 ${f.sha256}`,
            {
              hint:
                "the partial file was removed (or the local file changed); run the upload again",
            },
          ),
        };
      }
      return {
        status: "fulfilled",
        value: g.files.map(({ item, data, sha256 }, k) => {
          g.opts.onProgress?.({ file: item.local, done: data.length, total: data.length });
          return {
            path: item.target,
            size: data.length,
            sha256,
            resumedFrom: 0,
            unchanged: answers[k] === "unchanged",
            via: this.#mover.kind,
          };
        }),
      };
    });
  }

  /**
   * Hand the scanned file to a mover that reads it itself, and hash it here
   * meanwhile (unless known). The file must not change from the scan to the
   * end of the hash: the remote hash then proves the bytes sent were the
   * bytes scanned.
   */
  async #sendFile(
    mover: FileMover,
    local: string,
    offset: number,
    tmp: string,
    known: { sha256: string | undefined; stat: Deno.FileInfo },
    progress: (n: number) => void,
    what: string,
  ): Promise<{ sha256: string; received: { size: number; sha256: string } | undefined }> {
    const hashing = known.sha256 !== undefined ? Promise.resolve(known.sha256) : (async () => {
      const hash = createHash("sha256");
      await hashPrefix(local, known.stat.size, hash);
      return hash.digest("hex");
    })();
    const [sent, hashed] = await Promise.allSettled([
      mover.sendFile(local, offset, tmp, progress, {
        hashOnArrival: known.stat.size >= HASH_ON_ARRIVAL,
      }),
      hashing,
    ]);
    if (sent.status === "rejected") throw interrupted(sent.reason, what);
    if (hashed.status === "rejected") {
      throw inputError(`${what}: cannot read it: ${reason(hashed.reason)}`);
    }
    const now = await Deno.stat(local);
    const same = (a: Deno.FileInfo, b: Deno.FileInfo) =>
      a.size === b.size && a.ino === b.ino && a.mtime?.getTime() === b.mtime?.getTime() &&
      a.ctime?.getTime() === b.ctime?.getTime();
    if (!same(known.stat, now)) {
      await this.#site.transfer.exec(`rm -f -- ${sh(tmp)}`).catch(() => {});
      throw inputError(`${what}: the file changed while it was uploaded`, {
        hint: "upload it again once nothing writes to it",
      });
    }
    return { sha256: hashed.value, received: sent.value };
  }

  /** Stream the file from `offset`, each chunk scanned and hashed before it is sent. */
  async #sendStream(
    mover: StreamMover,
    local: string,
    offset: number,
    tmp: string,
    size: number,
    progress: (n: number) => void,
    what: string,
  ): Promise<{ sha256: string; received: undefined }> {
    const hash = createHash("sha256");
    const scanner = new KeyScanner();
    await hashPrefix(local, offset, hash, scanner);
    if (scanner.found) {
      throw keyMaterialRefusal(local, `contains ${q(scanner.found)}`);
    }
    let streamed = offset;
    const data = await uploadStream(local, offset, hash, scanner, (n) => {
      streamed += n;
      progress(n);
    });
    let failure: unknown;
    try {
      await mover.send(data, tmp, offset);
    } catch (err) {
      failure = err;
    }
    // A refused chunk ends the byte stream early, which a mover may take for
    // a normal end: the scanner and the byte count decide, not the mover.
    if (scanner.found) {
      await this.#site.transfer.exec(`rm -f -- ${sh(tmp)}`).catch(() => {});
      throw keyMaterialRefusal(local, `contains ${q(scanner.found)}`);
    }
    if (failure !== undefined || streamed !== size) {
      throw interrupted(failure ?? `the byte stream ended after ${streamed} bytes`, what);
    }
    return { sha256: hash.digest("hex"), received: undefined };
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
      const counter = hashing(hash, (n) => {
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
