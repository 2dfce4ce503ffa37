/** `sealbatch site ...`: create and check site profiles. */
import { Command } from "@commander-js/extra-typings";
import {
  defaultSite,
  defaultSiteFile,
  siteNames,
  sitePath,
  siteProfilePath,
  sitesDir,
} from "../config/site_path.ts";
import { siteTemplate } from "../config/site_template.ts";
import { writeFileAtomic } from "../util/files.ts";
import { localUser, NAME_RE } from "../util/user.ts";
import { q, usageError } from "../util/errors.ts";
import { checkText, note, result } from "./output.ts";
import { passphraseSource } from "./passphrase.ts";

export function siteCommand(): Command {
  const site = new Command("site").description("create and check site profiles")
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch site init gwdg\n  sealbatch site check gwdg\n  sealbatch help site check",
    );

  site.command("init")
    .description("write a commented site profile to fill in")
    .argument("<name>", "site name (profile goes to the sealbatch config dir)")
    .option("--out <file>", "write the profile to this path instead")
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch site init gwdg\n  sealbatch site init test --out ./site.yaml",
    )
    .action(async (name, opts) => {
      if (!NAME_RE.test(name)) {
        throw usageError(`invalid site name ${q(name)}`, {
          hint: "letters, digits, '.', '_' and '-'",
        });
      }
      const path = opts.out ?? sitePath(name);
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", {
        recursive: true,
        mode: 0o700,
      });
      await writeFileAtomic(path, siteTemplate(name, localUser()), { mode: 0o600 });
      result(`wrote ${path}`, { path });
      note(`next: edit it, then run: sealbatch site check ${opts.out ?? name}`);
    });

  site.command("use")
    .description("make a site the default for --site (SEALBATCH_SITE still wins)")
    .argument("<site>", "site name (a profile in the config dir) or path to a profile")
    .addHelpText("after", "\nExamples:\n  sealbatch site use gwdg\n  sealbatch run job.yaml")
    .action(async (nameOrPath) => {
      const { loadSiteProfile } = await import("../config/site.ts");
      const path = await siteProfilePath(nameOrPath);
      await loadSiteProfile(path); // only a valid profile becomes the default
      const file = defaultSiteFile();
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${nameOrPath}\n`, { mode: 0o600, overwrite: true });
      result(`default site: ${nameOrPath}`, { site: nameOrPath, path, file });
    });

  site.command("list")
    .description("list the site profiles in the config dir, marking the default")
    .addHelpText("after", "\nExamples:\n  sealbatch site list\n  sealbatch --json site list")
    .action(async () => {
      const names = await siteNames();
      const def = await defaultSite();
      const rows = names.map((name) => ({
        name,
        path: sitePath(name),
        default: def?.site === name || def?.site === sitePath(name),
      }));
      const text = rows.length === 0
        ? `no site profiles in ${sitesDir()} yet (sealbatch site init NAME)`
        : rows.map((r) => `${r.default ? "*" : " "} ${r.name.padEnd(16)} ${r.path}`).join("\n") +
          (def ? `\n(default from ${def.from})` : "");
      result(text, rows);
    });

  site.command("check")
    .description(
      "validate a site profile, then check its keys, Vault and the site (host key, login,\n" +
        "sbatch, partition, remote directory, node command): one line per check, read-only",
    )
    .argument("[site]", "site name or path to a profile (default: the default site)")
    .option("--offline", "only validate the profile")
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch site check gwdg\n  sealbatch site check ./site.yaml --offline",
    )
    .action(async (nameOrPath, opts) => {
      const { loadSiteProfile } = await import("../config/site.ts");
      const profile = await loadSiteProfile(await siteProfilePath(nameOrPath));
      if (opts.offline) {
        result(`ok   profile: ${profile.path} is valid`, { ok: true, profile });
        return;
      }
      const identity = profile.ssh.identity;
      const { checkProfile } = await import("../run/doctor.ts");
      const checks = await checkProfile(profile, {
        ...(identity
          ? { passphrase: () => passphraseSource(undefined)(`SSH identity ${identity}`) }
          : {}),
      });
      const { checksFailed } = await import("../remote/check.ts");
      result(checkText(checks), {
        ok: checks.every((c) => c.ok),
        profile,
        checks,
      });
      const failed = checksFailed(checks);
      if (failed) throw failed;
    });

  return site;
}
