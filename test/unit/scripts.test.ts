import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "../helpers/cli.js";

describe("shell scripts", () => {
  it("every script in scripts/ and .ci/run is shellcheck-clean", async () => {
    const scripts = (await readdir(join(REPO, "scripts")))
      .filter((f) => f.endsWith(".sh"))
      .map((f) => join("scripts", f));
    expect(scripts).toEqual(
      expect.arrayContaining(["scripts/verify-kmem.sh", "scripts/setup-system.sh", "scripts/test.sh"]),
    );
    const r = await execa("shellcheck", [...scripts, ".ci/run"], { cwd: REPO, reject: false });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
