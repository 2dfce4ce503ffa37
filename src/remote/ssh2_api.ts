/**
 * The part of ssh2's API sealbatch uses, typed locally (ssh2 ships no types),
 * and the one place that imports it.
 */
import ssh2 from "ssh2";

export interface Ssh2Stream {
  on(event: "data", cb: (chunk: Uint8Array) => void): this;
  on(event: "close", cb: (code: number | null, signal?: string) => void): this;
  on(event: "exit", cb: (code: number | null, signal?: string) => void): this;
  on(event: "error", cb: (err: Error) => void): this;
  on(event: "end", cb: () => void): this;
  stderr: { on(event: "data", cb: (chunk: Uint8Array) => void): void };
  write(data: Uint8Array): boolean;
  end(data?: Uint8Array): void;
  pipe<T>(dest: T): T;
  destroy(): void;
}

export interface Ssh2Stats {
  size: number;
  mode: number;
}

export interface Ssh2Sftp {
  open(
    path: string,
    flags: string,
    attrs: { mode: number },
    cb: (err: Error | undefined, handle: Uint8Array) => void,
  ): void;
  write(
    handle: Uint8Array,
    buf: Uint8Array,
    off: number,
    len: number,
    pos: number,
    cb: (err?: Error) => void,
  ): void;
  read(
    handle: Uint8Array,
    buf: Uint8Array,
    off: number,
    len: number,
    pos: number,
    cb: (err: Error | undefined, bytesRead: number) => void,
  ): void;
  close(handle: Uint8Array, cb: (err?: Error) => void): void;
  on(event: "close", cb: () => void): void;
  end(): void;
}

export interface Ssh2ConnectConfig {
  host?: string;
  port?: number;
  username: string;
  sock?: Ssh2Stream;
  privateKey?: Uint8Array | string;
  passphrase?: string;
  agent?: string;
  hostVerifier: (key: Uint8Array) => boolean;
  algorithms?: { serverHostKey?: string[]; cipher?: string[] };
  keepaliveInterval?: number;
  keepaliveCountMax?: number;
  readyTimeout?: number;
}

export interface Ssh2Client {
  on(event: "ready", cb: () => void): this;
  on(event: "error", cb: (err: Error & { level?: string }) => void): this;
  on(event: "close", cb: () => void): this;
  once(event: "ready", cb: () => void): this;
  once(event: "error", cb: (err: Error & { level?: string }) => void): this;
  removeListener(event: string, cb: (...args: never[]) => void): this;
  connect(config: Ssh2ConnectConfig): this;
  setNoDelay(noDelay?: boolean): this;
  exec(command: string, cb: (err: Error | undefined, stream: Ssh2Stream) => void): boolean;
  sftp(cb: (err: Error | undefined, sftp: Ssh2Sftp) => void): boolean;
  forwardOut(
    srcIP: string,
    srcPort: number,
    dstIP: string,
    dstPort: number,
    cb: (err: Error | undefined, stream: Ssh2Stream) => void,
  ): boolean;
  end(): this;
}

export interface Ssh2KeyParser {
  parseKey(data: Uint8Array | string, passphrase?: string): unknown;
}

const lib = ssh2 as unknown as { Client: new () => Ssh2Client; utils: Ssh2KeyParser };

export function newClient(): Ssh2Client {
  return new lib.Client();
}

/** ssh2's parser returns an Error (not throws) for bad or protected keys. */
export function parseKey(data: Uint8Array, passphrase?: string): Error | undefined {
  const parsed = lib.utils.parseKey(data, passphrase);
  return parsed instanceof Error ? parsed : undefined;
}
