// A release matrix through one cache directory: N example releases (1.20.1 … 1.20.N, the
// tag-era example tree, amd64, --no-rpm) built one after the other through the real CLI with
// podman, in three ways:
//   isolated  each tarball unverified (no checksum): its own Go build cache, as every source had before
//   shared    each verified (--sha512): one Go build cache for all, no size limit
//   limited   verified and shared, with --cache-max-size at ¾ and at ½ of the shared run's peak
//             (¾ keeps the shared Go cache and the newest binaries; ½ is less than the Go cache)
// For each: total and per-build time, how many builds compiled, and the peak cache size (du of the
// cache directory after each build). The load average is printed at the start and end of each.
//
//   node bench/cache-matrix.mjs [--short] [--n N] [--limit SIZE]
//
// --short: N = 3 (CI); default N = 20. Needs lib/ (npm run build), podman and the builder image.
// Prints a Markdown section (BENCHMARKS.md, "Build: a release matrix through one cache").
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { ROOT, IMAGE } from "./build.mjs";
import { timed } from "./lib/util.mjs";

const argv = process.argv.slice(2);
const short = argv.includes("--short") || process.env.KMEM_BENCH_SHORT === "1";
const nAt = argv.indexOf("--n");
const n = nAt >= 0 ? Number(argv[nAt + 1]) : short ? 3 : 20;
const limitAt = argv.indexOf("--limit");
const limitFlag = limitAt >= 0 ? argv[limitAt + 1] : null;
const CLI = join(ROOT, "lib", "cli.js");
const log = (l) => process.stderr.write(`cache-matrix: ${l}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");
const du = (dir) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
const mib = (b) => (b / 2 ** 20).toFixed(1);

const scratch = await mkdtemp(join(tmpdir(), "kmem-bench-matrix-"));
let failed = false;
try {
  const versions = Array.from({ length: n }, (_, i) => `1.20.${i + 1}`);
  log(`making ${n} example releases`);
  const releases = versions.map((v) => {
    const dir = join(scratch, "pub", v);
    execFileSync("sh", [join(ROOT, "scripts", "make-example.sh"), "tag-era", v, dir], { stdio: "ignore" });
    const tarball = join(dir, `v${v}`, "kubernetes-src.tar.gz");
    const sha512 = execFileSync("cat", [`${tarball}.sha512`], { encoding: "utf8" })
      .trim()
      .split(/\s+/)[0];
    return { version: v, tarball, sha512 };
  });

  async function matrix(name, { verified, maxSize }) {
    const cache = join(scratch, `cache-${name}`);
    const loadStart = load();
    const times = [];
    let compiled = 0;
    let peak = 0;
    for (const r of releases) {
      const out = join(scratch, `out-${name}`);
      const args = [CLI, "build", "--engine", "podman", "--image", IMAGE, "--cache-dir", cache, "--out", out];
      args.push("--kubernetes", r.version, "--arch", "amd64", "--source", r.tarball, "--no-rpm", "--json");
      if (verified) args.push("--sha512", r.sha512);
      args.push("--cache-max-size", maxSize);
      const t = await timed(process.execPath, args, { cwd: ROOT });
      if (t.code !== 0) throw new Error(`${name} ${r.version}: exit ${t.code}\n${t.stderr.slice(-2000)}`);
      if (JSON.parse(t.stdout).compiled.length) compiled++;
      times.push(t.seconds);
      peak = Math.max(peak, du(cache));
      await rm(out, { recursive: true, force: true });
      log(`${name} ${r.version}: ${t.seconds.toFixed(1)} s, cache ${mib(du(cache))} MiB`);
    }
    const final = du(cache);
    await rm(cache, { recursive: true, force: true });
    const sorted = [...times.slice(1)].sort((a, b) => a - b);
    return {
      name,
      maxSize,
      total: times.reduce((a, b) => a + b, 0),
      first: times[0],
      laterMedian: sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN,
      compiled,
      peak,
      final,
      loadStart,
      loadEnd: load(),
    };
  }

  const rows = [];
  rows.push(await matrix("isolated", { verified: false, maxSize: "1T" }));
  const shared = await matrix("shared", { verified: true, maxSize: "1T" });
  rows.push(shared);
  const limits = limitFlag
    ? [[limitFlag, `--cache-max-size ${limitFlag}`]]
    : [
        [String(Math.floor((shared.peak * 3) / 4)), "¾"],
        [String(Math.floor(shared.peak / 2)), "½"],
      ];
  const what = {
    isolated: "unverified: one Go cache per tarball",
    shared: "verified: one shared Go cache, no limit",
  };
  for (const [limit, part] of limits) {
    const name = `limited-${part}`;
    what[name] =
      `verified, shared, --cache-max-size ${mib(Number(limit) || 0)} MiB` +
      (limitFlag ? "" : ` (${part} of the shared peak)`);
    rows.push({ ...(await matrix(name, { verified: true, maxSize: limit })), name });
  }
  process.stdout
    .write(`## Build: a release matrix through one cache (\`node bench/cache-matrix.mjs${short ? " --short" : ""}${nAt >= 0 ? ` --n ${n}` : ""}\`)

${n} example releases (tag-era tree, 1.20.1 … 1.20.${n}), amd64, \`--no-rpm\`, built one after the
other through the real CLI with podman (${IMAGE}) into one cache directory. Peak cache: \`du -sb\`
of the cache directory after each build. Example trees are tiny next to the real tree: the figures
show the cache's behaviour (what is shared, what the limit keeps), not real compile times.

| matrix | total s | first build s | later builds, median s | builds that compiled | peak cache MiB | cache at end MiB | load at start | load at end |
|---|---|---|---|---|---|---|---|---|
${rows
  .map(
    (r) =>
      `| ${what[r.name]} | ${r.total.toFixed(1)} | ${r.first.toFixed(1)} | ${r.laterMedian.toFixed(1)} | ${r.compiled}/${n} | ${mib(r.peak)} | ${mib(r.final)} | ${r.loadStart} | ${r.loadEnd} |`,
  )
  .join("\n")}
`);
} catch (err) {
  failed = true;
  process.stderr.write(`cache-matrix: ${err.message}\n`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
