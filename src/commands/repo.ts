import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { Option } from "commander";
import { buildRepo, DEFAULT_PRIORITY, unsignedWarning, type RepoLayout } from "../package/repo.js";
import { printError, printJson } from "./output.js";

interface RepoFlags {
  from: string[];
  out: string;
  layout: RepoLayout;
  signKey?: string;
  baseUrl?: string;
  name: string;
  priority: string;
  gnupgHome?: string;
  json?: boolean;
}

function epochFromEnv(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH is not a number of seconds: "${v}"`);
  return Number(v);
}

function priorityFlag(v: string): number {
  if (!/^\d{1,2}$/.test(v) || Number(v) < 1)
    throw new UsageError(
      `invalid --priority: "${v}"`,
      "use 1-99, below the official repository's (default 99)",
    );
  return Number(v);
}

export function registerRepo(program: Command): void {
  program
    .command("repo")
    .description(
      "Build yum repositories (createrepo_c) from kmem-build outputs, one per Kubernetes minor, each with a ready .repo file",
    )
    .requiredOption(
      "--from <dir>",
      "build output: dist/ or dist/<version>/ (repeatable); every RPM is checked against its SHA256SUMS",
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .requiredOption("--out <dir>", "repository directory (replaced only when the new one is complete)")
    .addOption(
      new Option(
        "--layout <layout>",
        "minor: one repository per Kubernetes minor in <out>/<minor>/ (yum upgrade never crosses a minor); single: all in <out>",
      )
        .choices(["minor", "single"])
        .default("minor"),
    )
    .option(
      "--sign-key <key>",
      "GPG key (fingerprint, ID or email) to sign repodata/repomd.xml and export RPM-GPG-KEY-kmem-build",
    )
    .option("--base-url <url>", "URL clients use to reach the repository (default: file://<out>)")
    .option(
      "--name <id>",
      "repository id: the [section] and the <id>.repo file name (<id>-<minor> per minor)",
      "kmem-build",
    )
    .option(
      "--priority <n>",
      "priority= in the .repo file (1-99, lower wins): keeps the nokmem kubelet over a newer official one",
      String(DEFAULT_PRIORITY),
    )
    .option("--gnupg-home <dir>", "GnuPG home holding the signing key (default: $GNUPGHOME or ~/.gnupg)")
    .option(
      "--json",
      "print a machine-readable result on stdout instead of the .repo file (schemas/repo-result.schema.json)",
    )
    .addHelpText(
      "after",
      "\nThe repository revision and timestamps come from $SOURCE_DATE_EPOCH, else the newest RPM build time,\nso the same inputs give identical repodata.",
    )
    .action(async (flags: RepoFlags) => {
      let result;
      try {
        result = await buildRepo({
          from: flags.from,
          out: flags.out,
          layout: flags.layout,
          signKey: flags.signKey,
          baseUrl: flags.baseUrl,
          id: flags.name,
          priority: priorityFlag(flags.priority),
          epoch: epochFromEnv(),
          gnupgHome: flags.gnupgHome,
        });
      } catch (err) {
        if (flags.json) printError(err);
        throw err;
      }
      const warning = unsignedWarning({
        gpgcheck: result.packagesSigned,
        repoGpgcheck: result.metadataSigned,
      });
      for (const l of warning ?? []) process.stderr.write(`warning: ${l}\n`);
      if (flags.json) {
        printJson({ ok: true, ...result });
        return;
      }
      const signing = result.metadataSigned
        ? `repomd.xml signed; RPMs ${result.packagesSigned ? "signed" : "NOT signed by this key (gpgcheck=0)"}`
        : "unsigned";
      process.stderr.write(
        `repo: ${result.packages.length} package(s) in ${result.repositories.length} repositor${result.repositories.length === 1 ? "y" : "ies"} under ${result.repo} (${signing})\n`,
      );
      for (const r of result.repositories)
        process.stderr.write(
          `repo: wrote ${r.repoFile} (revision ${r.revision}); copy it to /etc/yum.repos.d/ on the ${r.minor ? `${r.minor} ` : ""}nodes\n`,
        );
      process.stdout.write(result.repositories.map((r) => r.repoFileText).join("\n"));
    });
}
