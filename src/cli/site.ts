/** `sealbatch site ...`: create and check site profiles. */
import { Command } from "@commander-js/extra-typings";
import { loadSiteProfile } from "../config/site.ts";
import { sitePath } from "../config/site_path.ts";
import { siteTemplate } from "../config/site_template.ts";
import { writeFileAtomic } from "../util/files.ts";
import { localUser, NAME_RE } from "../util/user.ts";
import { q, usageError } from "../util/errors.ts";
import { note, result } from "./output.ts";

export function siteCommand(): Command {
  const site = new Command("site").description("create and check site profiles");

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

  site.command("check")
    .description("validate a site profile")
    .argument("<site>", "site name or path to a profile")
    .addHelpText(
      "after",
      "\nExamples:\n  sealbatch site check gwdg\n  sealbatch site check ./site.yaml",
    )
    .action(async (nameOrPath) => {
      const profile = await loadSiteProfile(sitePath(nameOrPath));
      result(`ok   profile ${profile.path} is valid`, { ok: true, profile });
    });

  return site;
}
