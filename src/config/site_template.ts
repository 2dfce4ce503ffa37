/** The commented profile `sealbatch site init NAME` writes. */
export function siteTemplate(name: string, user: string): string {
  return `# sealbatch site profile "${name}".
# Check it with: sealbatch site check ${name}
name: ${name}
# Your OpenPGP secret key (mode 0600) that signs each job's run.sh.
sign_key: ~/.config/sealbatch/${user}.sec.asc

ssh:
  # Login node: commands (sbatch, squeue) run here.
  login: { host: login.hpc.example.org, port: 22 }
  # Transfer node for bulk uploads (defaults to the login node).
  # transfer: { host: transfer.hpc.example.org, port: 22 }
  user: ${JSON.stringify(user)}
  identity: ~/.ssh/id_ed25519
  # Host keys are checked strictly against this file...
  known_hosts: ~/.ssh/known_hosts
  # ...or against a pinned fingerprint (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).
  # host_key_fingerprint: SHA256:...
  # Reach the login node through a jump host.
  # jump: { host: gateway.example.org, port: 22, user: ${user} }

remote:
  # Where containers and jobs are uploaded (shared file system: only ciphertext goes there).
  base_dir: /scratch/users/${user}/sealbatch

vault:
  addr: https://vault.example.org:8200
  mount: secret
  # CA that signed the Vault server certificate. TLS verification cannot be switched off.
  # ca_cert: ~/.config/sealbatch/vault-ca.pem
  # Where your Vault token comes from (never from this file or the command line):
  # auto: VAULT_TOKEN, else ~/.vault-token; env: VAULT_TOKEN only;
  # file: ~/.vault-token (what \`vault login\` writes); file:PATH: a token file of mode 0600.
  token_source: auto
  # How long a job's single-use credentials stay valid while it waits in the queue.
  wrap_ttl: 72h
  # job-scoped: wrapped reads of exactly the job's keys (no policy rights needed).
  # reference: a use-limited token with the site's policy, for the reference node scripts.
  key_mode: job-scoped
  # reference_policy: secure-hpc-user
  # Reach Vault through an SSH tunnel via the login node.
  tunnel: false

node:
  # The secure nodes' OpenPGP public key (from the site admins).
  public_key: ~/.config/sealbatch/${name}-node.pub.asc
  # sealbatch: the node runs sealbatch's node commands; reference: the site's own scripts.
  flavour: sealbatch
  # How the job runs sealbatch on the node (sealbatch flavour), as a list of words.
  # command: [/usr/local/bin/sealbatch]
  # Size of the nodes' work_dir (tmpfs) as the admins state it: the decrypted input and the
  # results live there; site check and run --dry-run warn when an input will not fit.
  # work_dir_size: 64G

slurm:
  partition: secure
  exclusive: true
  # programs: { sbatch: /opt/slurm/bin/sbatch, squeue: /opt/slurm/bin/squeue }
  defaults:
    time: "01:00:00"
    # mem: 8G
    # cpus: 4
`;
}
