/**
 * docs/troubleshooting.md explains the messages the failure-mode tests see. This keeps the two
 * together: each message fragment below must still be printed by the code and explained in the doc,
 * so renaming a message without updating the doc (or the other way round) fails here.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "./helpers.js";

/** Literal parts of messages (as they appear in the source, between any ${…} parts). */
const BUILD_MESSAGES = [
  "invalid Kubernetes version",
  "is not supported by any recipe",
  "unknown architecture",
  "no architecture given",
  "invalid base URL",
  "base URL must be http or https",
  "recipes overlap",
  "recipes directory not found",
  "no recipes (*.yaml) in",
  "malformed line",
  "does not apply to Kubernetes",
  "no builder image known for Kubernetes",
  "does not exist",
  "malformed sha512 checksum from",
  "no published checksum at",
  "no checksum to verify the GitHub archive of",
  "sha512 mismatch for",
  "points outside the extraction directory",
  "outside the tree",
  "that leaves the tree through other links",
  "lies beneath the symbolic link",
  "the archive is empty",
  "the archive is truncated",
  "as a gzip-compressed tar archive",
  "is not a Kubernetes source tree: cmd/kubelet is missing",
  "not kept in the cache",
  "extraction stopped",
  "refusing the source tree",
  "as extracted differs from what the archive listing showed",
  "answered HTTP",
  "attempt(s)",
  "no data for",
  "too many redirects",
  "KMEM_BUILD_HTTP_TIMEOUT_MS must be a whole number of milliseconds",
  "does not name a",
  "no container engine found (looked for podman and docker)",
  "container engine not found",
  "docker is installed but its engine does not answer",
  "as asked",
  "build the yum repository",
  "verify nodes over ssh",
  "required tool not found",
  "is not in the keyring",
  "is not present and could not be pulled",
  "finished but produced no _output/local/bin/linux/",
  "inspection failed, nothing was published",
  "refused binaries kept for examination in",
  "the Kubernetes build needs",
  "would not install on EL7",
  "interrupted by",
  "is in use by another kmem-build",
  "could not lock",
  "build log of the failed run",
  "report too large: the node sent more than",
  "choose one of --json, --brief and --reboot-required",
  "--reboot-required answers for this host only",
  ": no directory ",
  " is not a directory`",
  ": cannot write in ",
  " is a directory`",
  "--junit and --html name the same file",
  "(a process id)",
  "(64 hex digits, optionally :NAME)",
  "must be at least 1s",
  "needs a time",
  "build log of the failed run not written",
  "exists and holds files",
  "did not write (",
  "; nothing was deleted",
  "changed while it was replaced",
  "exists and is not a directory",
  "is not a readable directory",
  "give --work-dir a scratch directory apart from --source, --out and the cache",
  "is inside the --source tree",
  "give --cache-dir a directory of its own",
  ": not written through",
  "check that its directory exists and that you may write there",
  "directory of a run that is gone: ",
  "the output pipe was closed",
  "not a regular file or a directory",
  "was not reused: ",
  "sealed when it was kept",
  "it carries no seal made with this cache's key",
  "it holds no /usr/bin/kubelet",
  "scriptlet is not the one kubelet.spec.in makes",
  "kept but not sealed",
  "is not Kubernetes",
  "says it was archived from the tag",
  "its newest changelog is CHANGELOG-",
  "the newest entry of its",
  "least recently used entries (",
  "the cache was not pruned: ",
  "is not a size",
  "still over the limit, the rest is in use by running builds",
];

const VERIFY_MESSAGES = [
  "no memory cgroup controller found in",
  "is not a readable directory",
  "could not read memory.kmem.usage_in_bytes of",
  "(missing, unreadable or not a byte count)",
  "at most 366d)",
  "--prometheus must not point into the cgroup filesystem",
  "is a symbolic link: not followed (name the file itself)",
  "is not a regular file (a directory, device or fifo is never replaced)",
  "is not a file name",
  "cannot write --prometheus file next to",
  "cannot write --prometheus file '",
  "cannot read --kernel-log file",
  "became a symbolic link during the run: not followed",
  "became a directory or other non-regular file during the run: not replaced",
  "is in a directory that was moved or replaced by a link during the run",
  "is not a regular file (a fifo or device is never read; save the log to a file first)",
  "cannot tell which process is the kubelet: processes named kubelet (pids",
  "are all root's and run ",
  "kernel log not read: ",
  "verdict cache not used: ",
  "binaries ignored: not a file of uid",
  "which any local user can write (logger -t kernel): not authenticated; confirm with dmesg or journalctl -k",
  "choose one of --gate and --reboot-required",
  ", --gate: fix state ",
  ": fix state unknown",
];

let doc: string;
let src: string;
let script: string;

async function readTree(dir: string): Promise<string> {
  let text = "";
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) text += await readTree(p);
    else if (e.name.endsWith(".ts")) text += await readFile(p, "utf8");
  }
  return text;
}

beforeAll(async () => {
  doc = await readFile(join(REPO, "docs", "troubleshooting.md"), "utf8");
  src = await readTree(join(REPO, "src"));
  script = await readFile(join(REPO, "scripts", "verify-kmem.sh"), "utf8");
});

describe("docs/troubleshooting.md", () => {
  it.each(BUILD_MESSAGES)("explains %j, which the code still prints", (m) => {
    expect(src, "message no longer in src/").toContain(m);
    expect(doc, "message not explained in docs/troubleshooting.md").toContain(m);
  });

  it.each(VERIFY_MESSAGES)("explains %j, which verify-kmem.sh still prints", (m) => {
    expect(script).toContain(m);
    expect(doc).toContain(m);
  });

  it("documents every exit code", () => {
    for (const code of ["| 1 |", "| 2 |", "| 3 |", "130 / 143"]) expect(doc).toContain(code);
    expect(doc).toContain("KMEM_BUILD_HTTP_TIMEOUT_MS");
  });
});
