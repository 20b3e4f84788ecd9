// Benchmarks of issue #10 on the genuine Kubernetes 1.20.2 tree (Debian's `kubernetes` source
// package, fetched and checked by scripts/real-source.sh), Go 1.15 image localhost/kmem-build-go:1.15.
//
//   node bench/real-release.mjs [--runs N] [--arches amd64,arm64] [--out FILE|-]
//                               [--only overhead] [--cache DIR]
//
//   --only overhead  only the overhead pairs and inspection (the other figures keep their lines in
//                    BENCHMARKS.md); give --cache with a warm Go build cache (DIR/go/go-build)
//
//   cold      kmem-build build, both arches, empty cache (and empty Go build cache), RPMs included
//   warm      the same with --rebuild: everything recompiled through make, Go build cache warm
//   no-op     the same without --rebuild: nothing compiled
//   overhead  amd64, Go cache warm: `kmem-build build --rebuild` against bench/plain-build.sh (the
//             same podman run + make, rpmbuild and sha256sum by hand), alternated, N pairs
//   inspect   the tool's streaming inspection of the 105 MB kubelet (src/inspect/scan-file.ts), N runs
//   RSS       peak RSS (VmHWM) of the kmem-build process alone, from bench/lib/trace.mjs
//
// The section is written into BENCHMARKS.md between the markers below (or to stdout with --out -).
// Slow: ~30-40 min on 2 cores. Nothing fails on a number; exit 1 only when something broke.
import { mkdtemp, readFile, rm, writeFile, stat, rename } from "node:fs/promises";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg as osLoad } from "node:os";
import { timed, must, stats, mmm, machineInfo } from "./lib/util.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "lib", "cli.js");
const TRACE = join(ROOT, "bench", "lib", "trace.mjs");
const PLAIN = join(ROOT, "bench", "plain-build.sh");
const IMAGE = process.env.KMEM_BUILD_REAL_IMAGE ?? "localhost/kmem-build-go:1.15";
const VERSION = "1.20.2";
const BEGIN = "<!-- real-release:begin -->";
const END = "<!-- real-release:end -->";
const OBEGIN = "<!-- real-release-overhead:begin -->";
const OEND = "<!-- real-release-overhead:end -->";

function parseArgs(argv) {
  const o = {
    runs: 3,
    arches: ["amd64", "arm64"],
    out: join(ROOT, "BENCHMARKS.md"),
    only: null,
    cache: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") o.runs = Number(argv[++i]);
    else if (a === "--arches") o.arches = argv[++i].split(",");
    else if (a === "--out") o.out = argv[++i];
    else if (a === "--only") o.only = argv[++i];
    else if (a === "--cache") o.cache = resolve(argv[++i]);
    else {
      process.stderr.write(`usage: node bench/real-release.mjs [--runs N] [--arches LIST] [--out FILE|-]\n`);
      process.exit(2);
    }
  }
  return o;
}

const log = (l) => process.stderr.write(`bench real-release: ${l}\n`);
const load = () => osLoad()[0].toFixed(2);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(process.env.TMPDIR ?? "/var/tmp", "kmem-real-bench-"));
  const res = { runs: o.runs, arches: o.arches, loads: [] };
  try {
    const tarball = (await must("sh", [join(ROOT, "scripts", "real-source.sh")])).stdout.trim();
    const sha512 = (await must("sha512sum", [tarball])).stdout.split(" ")[0];
    const epoch = String(Math.floor((await stat(tarball)).mtimeMs / 1000));
    const cache = o.cache ?? join(work, "cache");
    let n = 0;
    const tool = async (arches, extra, what) => {
      const trace = join(work, `trace-${++n}.json`);
      const out = join(work, "out");
      const r = await timed(
        process.execPath,
        ["--import", TRACE, CLI, "build", "--kubernetes", VERSION, "--arch", arches.join(",")]
          .concat(["--source", tarball, "--sha512", sha512, "--image", IMAGE, "--engine", "podman"])
          .concat(["--cache-dir", cache, "--out", out, "--json", ...extra]),
        { env: { ...process.env, CI: "true", KMEM_BENCH_TRACE: trace } },
      );
      if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
      const t = JSON.parse(await readFile(trace, "utf8"));
      const json = JSON.parse(r.stdout);
      res.loads.push(load());
      log(
        `${what}: ${r.seconds.toFixed(1)} s, compiled [${json.compiled}], peak RSS ${(t.vmHWMKiB / 1024).toFixed(0)} MiB, load ${load()}`,
      );
      return { seconds: r.seconds, rssMiB: t.vmHWMKiB / 1024, compiled: json.compiled, outDir: json.outDir };
    };

    if (o.only !== "overhead") {
      log(`cold: ${o.arches.join(",")} from an empty cache`);
      res.cold = await tool(o.arches, [], "cold");
      res.warm = [];
      for (let i = 0; i < o.runs; i++) res.warm.push(await tool(o.arches, ["--rebuild"], `warm ${i + 1}`));
      res.noop = [];
      for (let i = 0; i < o.runs; i++) res.noop.push(await tool(o.arches, [], `no-op ${i + 1}`));
    }

    // Overhead: amd64 only, alternated with the plain script; both use the same Go cache.
    const spec = join(work, "kubelet.spec");
    await writeFile(
      spec,
      (
        await must(process.execPath, [
          join(ROOT, "bench", "lib", "render-spec.mjs"),
          VERSION,
          "2.nokmem",
          "nokmem-variant-linked",
          String(epoch),
        ])
      ).stdout,
    );
    res.pairs = [];
    for (let i = 0; i < o.runs; i++) {
      const t = await tool(["amd64"], ["--rebuild"], `overhead tool ${i + 1}`);
      const plainOut = join(work, "plain-out");
      await rm(plainOut, { recursive: true, force: true });
      const p = await timed("sh", [PLAIN, tarball, sha512, epoch, IMAGE, cache, plainOut, spec, "amd64"], {
        env: { ...process.env, KMEM_PLAIN_VERSION: VERSION, KMEM_PLAIN_STRIP: "1" },
      });
      if (p.code !== 0) throw new Error(`plain-build.sh failed (exit ${p.code}):\n${p.stderr.slice(-3000)}`);
      log(
        `overhead plain ${i + 1}: ${p.seconds.toFixed(1)} s (tool ${t.seconds.toFixed(1)} s, ratio ${(t.seconds / p.seconds).toFixed(3)})`,
      );
      res.pairs.push({ tool: t.seconds, plain: p.seconds, ratio: t.seconds / p.seconds, rssMiB: t.rssMiB });
    }

    const release = res.pairs.length ? join(work, "out", VERSION) : res.cold.outDir;
    const kubelet = join(release, "kubelet-linux-amd64");
    res.kubeletBytes = (await stat(kubelet)).size;
    res.rpmBytes = (await stat(join(release, `kubelet-${VERSION}-2.nokmem.x86_64.rpm`))).size;
    // Inspection of the real kubelet: the tool's own streaming scanner, page cache warm.
    const { scanFile } = await import(join(ROOT, "lib", "inspect", "scan-file.js"));
    res.inspect = [];
    for (let i = 0; i < Math.max(o.runs, 5); i++) {
      const t0 = process.hrtime.bigint();
      const s = await scanFile(kubelet, [`v${VERSION}`]);
      res.inspect.push(Number(process.hrtime.bigint() - t0) / 1e9);
      res.verdict = s.evidence.verdict;
    }
    res.machine = await machineInfo();
    const md = o.only === "overhead" ? renderOverhead(res) : render(res);
    const [begin, end] = o.only === "overhead" ? [OBEGIN, OEND] : [BEGIN, END];
    if (o.out === "-") process.stdout.write(md);
    else {
      const old = await readFile(o.out, "utf8").catch(() => "");
      const section = `${begin}\n${md}${end}`;
      const next = old.includes(begin)
        ? old.slice(0, old.indexOf(begin)) + section + old.slice(old.indexOf(end) + end.length)
        : `${old.trimEnd()}\n\n${section}\n`;
      await writeFile(`${o.out}.tmp`, next);
      await rename(`${o.out}.tmp`, o.out);
      log(`written to ${o.out}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function renderOverhead(r) {
  const s = (xs) => stats(xs);
  const ratio = s(r.pairs.map((p) => p.ratio));
  return `### Overhead on the real tree, rerun (\`node bench/real-release.mjs --only overhead\`)

${r.machine.date}, load averages after each run: ${r.loads.join(", ")}.

| pair | tool s | plain s | ratio | tool peak RSS |
| --- | --- | --- | --- | --- |
${r.pairs.map((p, i) => `| ${i + 1} | ${p.tool.toFixed(1)} | ${p.plain.toFixed(1)} | ${p.ratio.toFixed(3)} | ${p.rssMiB.toFixed(0)} MiB |`).join("\n")}

Median ratio **${ratio ? ratio.median.toFixed(3) : "n/a"}** (target ≤ 1.02). Inspection of the
${(r.kubeletBytes / 1048576).toFixed(1)} MiB kubelet: ${mmm(s(r.inspect), 3)} s.
`;
}

function render(r) {
  const s = (xs) => stats(xs);
  const ratio = s(r.pairs.map((p) => p.ratio));
  const mib = (b) => (b / 1048576).toFixed(1);
  const rss = [r.cold, ...r.warm, ...r.noop].map((x) => x.rssMiB);
  return `## The real Kubernetes 1.20.2 tree (\`node bench/real-release.mjs\`)

Debian's \`kubernetes\` source package (upstream v1.20.2, full vendor/, runc rc92), built with
\`${IMAGE}\` (Go 1.15.15, bullseye). Arches: ${r.arches.join(", ")}. ${r.runs} runs per figure
(min / median / max). Machine: ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.date}; 1-minute load averages after each run:
${r.loads.join(", ")} (other work shared the 2 cores while this ran: figures are upper bounds).

| what | seconds |
| --- | --- |
| cold (empty cache and Go build cache, ${r.arches.length} arches, RPMs) | ${r.cold.seconds.toFixed(1)} |
| warm (\`--rebuild\`, Go build cache warm, ${r.arches.length} arches) | ${mmm(s(r.warm.map((x) => x.seconds)), 1)} |
| no-op (nothing compiled) | ${mmm(s(r.noop.map((x) => x.seconds)), 2)} |
| inspection of the ${mib(r.kubeletBytes)} MiB kubelet (one streaming read) | ${mmm(s(r.inspect), 3)} |

Overhead against plain \`make\` of the same tree in the same container with the same Go cache
(amd64, \`kmem-build build --rebuild\` vs \`bench/plain-build.sh\` doing extract + the same
\`podman run … make\` + rpmbuild + sha256sum by hand), alternated pairs:

| pair | tool s | plain s | ratio |
| --- | --- | --- | --- |
${r.pairs.map((p, i) => `| ${i + 1} | ${p.tool.toFixed(1)} | ${p.plain.toFixed(1)} | ${p.ratio.toFixed(3)} |`).join("\n")}

Median ratio **${ratio ? ratio.median.toFixed(3) : "n/a"}** (target ≤ 1.02).

Peak RSS of the kmem-build process (VmHWM; podman, make and go are separate processes):
${mmm(s(rss), 0, " MiB")} (target ≤ 200 MiB). Kubelet ${mib(r.kubeletBytes)} MiB, RPM ${mib(r.rpmBytes)} MiB,
verdict ${r.verdict}.
`;
}

main().catch((err) => {
  process.stderr.write(`bench real-release: ${err.stack ?? err}\n`);
  process.exit(1);
});
