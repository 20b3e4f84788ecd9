// What taking a file into custody costs (src/pipeline/custody.ts): hashing a source archive where
// it lies (what fetch source did before) against copying it into a private file while hashing
// (what it does now), and the content digest that names a --source directory's Go build cache.
//
//   node bench/custody.mjs [--runs N] [ARCHIVE [TREE]]
//
// ARCHIVE defaults to Debian's orig tarball of Kubernetes 1.20.2 (scripts/real-source.sh, 34 MB),
// TREE to a fresh example tree (scripts/make-example.sh --tree). Every figure is min / median /
// max over the runs (default 5), in ms; the load average is printed with them. Needs lib/
// (npm run build).
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath, URL } from "node:url";
import { performance } from "node:perf_hooks";
import { copyAndHash, hashFile } from "../lib/util/hash.js";
import { treeDigest } from "../lib/util/tree-guard.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
let runs = 5;
if (args[0] === "--runs") {
  runs = Number(args[1]);
  args.splice(0, 2);
}
const cache = process.env.KMEM_BUILD_TEST_CACHE ?? "/var/cache/kmem-build-test";
const archive = args[0] ?? join(cache, "debian-src", "kubernetes_1.20.5+really1.20.2.orig.tar.gz");
const scratch = await mkdtemp(join(tmpdir(), "kmem-bench-custody-"));
try {
  let tree = args[1];
  if (!tree) {
    tree = join(scratch, "tree");
    execFileSync(
      "sh",
      [join(ROOT, "scripts", "make-example.sh"), "--tree", tree, "tag-era", "1.20.15", join(scratch, "pub")],
      {
        stdio: "ignore",
      },
    );
  }
  const time = async (fn) => {
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await fn(i);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    return `${ms[0].toFixed(0)} / ${ms[Math.floor(ms.length / 2)].toFixed(0)} / ${ms.at(-1).toFixed(0)}`;
  };
  const hashOnly = await time(() => hashFile(archive, "sha512"));
  const copy = await time(async (i) => {
    const dest = join(scratch, `copy-${i}`);
    await copyAndHash(archive, dest, "sha512");
    await rm(dest);
  });
  const digest = await time(() => treeDigest(tree));
  console.log(`| what | ms (min / median / max of ${runs}) |`);
  console.log("|---|---|");
  console.log(`| sha512 of ${archive} where it lies | ${hashOnly} |`);
  console.log(`| the same, copied into a private file while hashed | ${copy} |`);
  console.log(`| treeDigest of ${tree} | ${digest} |`);
  console.log(
    `\nLoad average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}`,
  );
} finally {
  await rm(scratch, { recursive: true, force: true });
}
