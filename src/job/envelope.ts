/**
 * The batch script `run.sh` in the reference site's format:
 *
 *   #!/bin/bash
 *   (optional empty line)
 *   /usr/bin/decrypt_and_execute <<EOF
 *   -----BEGIN PGP MESSAGE----- ... -----END PGP MESSAGE-----
 *   EOF            (no trailing newline)
 *
 * Parsing is strict: a signed script with anything else in it is refused,
 * because bash would run that too.
 */
import { inputError } from "../util/errors.ts";

export const WRAPPER_PATH = "/usr/bin/decrypt_and_execute";

/** `run.sh` text for an armored message, exactly as the reference writes it. */
export function wrapRunScript(armoredMessage: string): string {
  const body = armoredMessage.replace(/\r\n/g, "\n").trim();
  return `#!/bin/bash\n\n${WRAPPER_PATH} <<EOF\n${body}\nEOF`;
}

const HEREDOC_RE = /^\/usr\/bin\/decrypt_and_execute\s*<<\s*(EOF|'EOF'|"EOF")$/;

/**
 * The armored message inside a `run.sh`; accepts the reference variants
 * (with or without the empty line, with or without a final newline, CRLF).
 */
export function unwrapRunScript(text: string): string {
  const lines = text.replace(/\r\n/g, "\n").split("\n").map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const fail = (why: string) =>
    inputError(`not a sealed job script: ${why}`, {
      hint: `expected "#!/bin/bash", "${WRAPPER_PATH} <<EOF", an armored message and "EOF"`,
    });
  if (lines[0] !== "#!/bin/bash") throw fail('first line is not "#!/bin/bash"');
  let i = 1;
  while (lines[i] === "") i++;
  if (!HEREDOC_RE.test(lines[i] ?? "")) {
    throw fail(`line ${i + 1} is not "${WRAPPER_PATH} <<EOF"`);
  }
  const body = lines.slice(i + 1);
  if (body.pop() !== "EOF") throw fail('last line is not "EOF"');
  if (body.includes("EOF")) throw fail('"EOF" appears before the last line');
  if (body[0] !== "-----BEGIN PGP MESSAGE-----") {
    throw fail("the here-document does not start with an armored OpenPGP message");
  }
  if (body[body.length - 1] !== "-----END PGP MESSAGE-----") {
    throw fail("the armored message is truncated");
  }
  return body.join("\n") + "\n";
}

/** The form bash hands to stdin: lines without trailing blanks, no empty tail. */
export function normalizeArmor(text: string): string {
  const lines = text.replace(/\r\n/g, "\n").split("\n").map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  while (lines.length > 0 && lines[0] === "") lines.shift();
  return lines.join("\n");
}
