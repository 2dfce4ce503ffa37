/**
 * `sealbatch completion bash|zsh|fish` and `sealbatch man`: shell completions
 * and a man page, both generated from the command tree and its help, so they
 * never drift from the commands.
 */
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { q, usageError } from "../util/errors.ts";

interface Node {
  /** "" for the root, else "job list". */
  path: string;
  cmd: CommandUnknownOpts;
}

function nodes(root: CommandUnknownOpts): Node[] {
  const out: Node[] = [];
  const walk = (cmd: CommandUnknownOpts, path: string) => {
    out.push({ path, cmd });
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(root, "");
  return out;
}

function longOptions(cmd: CommandUnknownOpts): string[] {
  return cmd.options.flatMap((o) => (o.long ? [o.long] : [])).concat("--help");
}

/** The words that may follow `path`: its subcommands and its options (and the global ones). */
function words(node: Node, root: CommandUnknownOpts): string[] {
  const globals = node.cmd === root ? [] : longOptions(root);
  return [
    ...new Set([...node.cmd.commands.map((c) => c.name()), ...longOptions(node.cmd), ...globals]),
  ];
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

function bash(root: CommandUnknownOpts): string {
  const cases = nodes(root).map((n) =>
    `    ${JSON.stringify(n.path)}) echo ${JSON.stringify(words(n, root).join(" "))} ;;`
  );
  return [
    "# bash completion for sealbatch (generated: sealbatch completion bash)",
    "_sealbatch_words() {",
    '  case "$1" in',
    ...cases,
    "  esac",
    "}",
    "_sealbatch() {",
    '  local cur=${COMP_WORDS[COMP_CWORD]} path="" w i',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    "    w=${COMP_WORDS[i]}",
    "    [[ $w == -* ]] && continue",
    '    case " $(_sealbatch_words "$path") " in *" $w "*) path=${path:+$path }$w ;; esac',
    "  done",
    '  COMPREPLY=($(compgen -W "$(_sealbatch_words "$path")" -- "$cur"))',
    "}",
    "complete -o default -F _sealbatch sealbatch",
    "",
  ].join("\n");
}

function zsh(root: CommandUnknownOpts): string {
  return [
    "#compdef sealbatch",
    "# zsh completion for sealbatch (generated: sealbatch completion zsh), through bashcompinit",
    "autoload -U +X bashcompinit && bashcompinit",
    bash(root),
  ].join("\n");
}

function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, "\\$&")}'`;
}

function fish(root: CommandUnknownOpts): string {
  const lines = ["# fish completion for sealbatch (generated: sealbatch completion fish)"];
  for (const n of nodes(root)) {
    const parents = n.path === "" ? [] : n.path.split(" ");
    const children = n.cmd.commands.map((c) => c.name());
    const seen = parents.map((p) => `__fish_seen_subcommand_from ${p}`);
    const here = parents.length === 0 ? "__fish_use_subcommand" : seen.join("; and ");
    const notDeeper = children.length > 0 && parents.length > 0
      ? `; and not __fish_seen_subcommand_from ${children.join(" ")}`
      : "";
    for (const c of n.cmd.commands) {
      lines.push(
        `complete -c sealbatch -f -n ${fishQuote(here + notDeeper)} -a ${c.name()} -d ${
          fishQuote(oneLine(c.summary() || c.description()).slice(0, 80))
        }`,
      );
    }
    for (const o of n.cmd.options) {
      if (!o.long) continue;
      lines.push(
        `complete -c sealbatch -n ${fishQuote(parents.length === 0 ? "true" : here)} -l ${
          o.long.slice(2)
        } -d ${fishQuote(oneLine(o.description).slice(0, 80))}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

const roff = (text: string) =>
  text.replace(/\\/g, "\\e").replace(/^([.'])/gm, "\\&$1").replace(/-/g, "\\-");

/** A man page (roff) from every command's help text. */
export function manPage(root: CommandUnknownOpts, version: string): string {
  const help = (cmd: CommandUnknownOpts) => {
    let text = "";
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.outputHelp();
    return text.trimEnd();
  };
  const out = [
    `.TH SEALBATCH 1 "" "sealbatch ${roff(version.split(" ")[0] ?? version)}" "User Commands"`,
    ".SH NAME",
    "sealbatch \\- run jobs on sensitive data on a shared HPC system that nobody there has to trust",
    ".SH SYNOPSIS",
    ".B sealbatch",
    "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR ...",
    ".SH DESCRIPTION",
    roff(oneLine(root.description())),
    ".SH COMMANDS",
  ];
  for (const n of nodes(root)) {
    if (n.path === "") continue;
    out.push(`.SS sealbatch ${roff(n.path)}`, ".nf", roff(help(n.cmd)), ".fi");
  }
  out.push(
    ".SH EXIT STATUS",
    "0 success, 2 usage, 3 input, 4 refused, 5 credential used elsewhere, 6 remote, 7 Vault, " +
      "8 the job failed, 9 a program failed, 10 permission, 11\\-15 how the job ended, " +
      "16 job wait \\-\\-timeout, 128+N a signal (130 Ctrl\\-C). The table is in README.md.",
    ".SH ENVIRONMENT",
    "SEALBATCH_SITE (default site), VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, SSH_AUTH_SOCK, " +
      "XDG_CONFIG_HOME, XDG_RUNTIME_DIR, NO_COLOR, SEALBATCH_DEBUG.",
  );
  return out.join("\n") + "\n";
}

const SHELLS = { bash, zsh, fish } as const;

export function completionCommand(root: () => CommandUnknownOpts) {
  return new Command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "after",
      `
Examples:
  source <(sealbatch completion bash)                       # bash, this shell
  sealbatch completion bash > /etc/bash_completion.d/sealbatch
  sealbatch completion zsh > "\${fpath[1]}/_sealbatch"
  sealbatch completion fish > ~/.config/fish/completions/sealbatch.fish`,
    )
    .action((shell) => {
      const make = SHELLS[shell as keyof typeof SHELLS];
      if (!make) throw usageError(`unknown shell ${q(shell)}: expected bash, zsh or fish`);
      console.log(make(root()).trimEnd());
    });
}

export function manCommand(root: () => CommandUnknownOpts, version: string) {
  return new Command("man")
    .description("print the man page (roff), generated from every command's help")
    .addHelpText(
      "after",
      `
Examples:
  sealbatch man | man -l -
  sealbatch man > /usr/local/share/man/man1/sealbatch.1`,
    )
    .action(() => {
      console.log(manPage(root(), version).trimEnd());
    });
}
