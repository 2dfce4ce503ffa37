/**
 * Everything needed to reach a site, in one typed object that flags fill now
 * and the site profile fills later.
 */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
}

export interface SiteConnection {
  /** Host for commands (sbatch, squeue, ...). */
  login: Endpoint;
  /** Host for bulk transfers; the login host when absent. */
  transfer?: Endpoint;
  /** ProxyJump-style hop in front of login/transfer. */
  jump?: Endpoint;
  /** Private key file (OpenSSH or PEM; ed25519, RSA, ECDSA). */
  identity?: string;
  /** Use ssh-agent at SSH_AUTH_SOCK (also the default when no identity is given). */
  agent?: boolean;
  /** OpenSSH known_hosts file (default ~/.ssh/known_hosts). */
  knownHosts?: string;
  /** A pinned "SHA256:..." host key fingerprint, checked instead of known_hosts. */
  hostKeyFingerprint?: string;
  /** Add the key of an unknown host to known_hosts (trust on first use, explicit only). */
  acceptNew?: boolean;
  /** Remote base directory for uploads and jobs. */
  remoteDir: string;
  /** Asked when the identity file is protected by a passphrase. */
  passphrase?: () => Promise<string>;
  /** Keepalive probe interval on idle connections (default 15 s; 4 missed answers end it). */
  keepaliveMs?: number;
  /** Byte mover for transfers: OpenSSH's `ssh` (faster) or ssh2's SFTP; "auto" prefers ssh. */
  bulk?: "auto" | "openssh" | "sftp";
}

export function endpointLabel(e: Endpoint): string {
  return `${e.user}@${e.host}${e.port === 22 ? "" : `:${e.port}`}`;
}
