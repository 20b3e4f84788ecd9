// A patch release after a cold build, on the genuine Kubernetes 1.20.2 tree (Debian's orig
// tarball, scripts/real-source.sh) and a 1.20.3-like release made from it the way a patch release
// changes a tree: hack/lib/version.sh archived from the tag v1.20.3, the v1.20.2 entry in
// CHANGELOG/CHANGELOG-1.20.md, and a harmless exported const added to a few packages the kubelet
// links (PATCHED below). Both are verified sources (operator-given --sha512), so the second build
// reuses the shared Go build cache (<cache>/go/verified) the first one filled.
//
//   node bench/real-matrix.mjs [--arches amd64,arm64] [--no-control] [--no-noop] [--pairs N]
//                              [--no-generators-run]
//                              [--out FILE|-] [--results FILE] [--render FILE [--logs DIR]]
//
// Per arch, in its own empty cache directory (so each cold build is cold, host tools included):
//   cold     kmem-build build --kubernetes 1.20.2 (RPMs included)
//   patch    kmem-build build --kubernetes 1.20.3 of the 1.20.3-like tarball, same cache
//   patch, generators run   the same with --run-generators (how it was built before tag-era
//            could skip Kubernetes' code generators for 1.20)
// then, on the amd64 cache:
//   control  the 1.20.3-like tree as an unverified --source DIR: its own Go build cache (by content)
//   no-op    bench/real-release.mjs --only noop on that cache (nothing compiled)
//   overhead bench/real-release.mjs --only overhead on that cache, N pairs (default 2)
// The 1-minute load average is recorded before and after every run (the machine is shared).
// Results go to --results (JSON, written after every run, so a stopped run keeps what it measured);
// --render FILE writes the BENCHMARKS.md section from such a file without building anything;
// --logs DIR gives it the phases of runs recorded without them, from copies of their build.log
// (matched to the runs in time order, each checked to be of the run's version).
// Slow (~45-60 min on 2 cores): not part of bench/run.mjs nor of CI.
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile, rename, appendFile } from "node:fs/promises";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { timed, must, machineInfo } from "./lib/util.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "lib", "cli.js");
const IMAGE = process.env.KMEM_BUILD_REAL_IMAGE ?? "localhost/kmem-build-go:1.15";
const FROM = "1.20.2";
const TO = "1.20.3";
const BEGIN = "<!-- real-matrix:begin -->";
const END = "<!-- real-matrix:end -->";
/** Packages the kubelet links, one file each: the kubelet's own and one vendored dependency. */
export const PATCHED = [
  "pkg/kubelet/cm/container_manager.go",
  "pkg/kubelet/eviction/eviction_manager.go",
  "pkg/kubelet/kuberuntime/kuberuntime_manager.go",
  "pkg/kubelet/nodestatus/setters.go",
  "vendor/github.com/opencontainers/runc/libcontainer/cgroups/fs/fs.go",
];

const log = (l) => process.stderr.write(`bench real-matrix: ${l}\n`);
const load = () => loadavg()[0].toFixed(2);

function parseArgs(argv) {
  const o = {
    arches: ["amd64", "arm64"],
    control: true,
    noop: true,
    pairs: 2,
    generators: true,
    out: join(ROOT, "BENCHMARKS.md"),
    results: null,
    render: null,
    logs: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--arches") o.arches = argv[++i].split(",");
    else if (a === "--no-control") o.control = false;
    else if (a === "--no-noop") o.noop = false;
    else if (a === "--pairs") o.pairs = Number(argv[++i]);
    else if (a === "--no-generators-run") o.generators = false;
    else if (a === "--out") o.out = argv[++i];
    else if (a === "--results") o.results = resolve(argv[++i]);
    else if (a === "--render") o.render = resolve(argv[++i]);
    else if (a === "--logs") o.logs = resolve(argv[++i]);
    else {
      process.stderr.write(
        "usage: node bench/real-matrix.mjs [--arches LIST] [--no-control] [--no-noop] [--pairs N] [--out FILE|-] [--results FILE] [--render FILE [--logs DIR]]\n",
      );
      process.exit(2);
    }
  }
  if (!Number.isInteger(o.pairs) || o.pairs < 0) {
    process.stderr.write("bench real-matrix: --pairs takes a whole number\n");
    process.exit(2);
  }
  return o;
}

/** Makes the 1.20.3-like tarball from the 1.20.2 one; returns it, its sha512 and the extracted tree. */
export async function makePatchRelease(tarball, work) {
  const top = join(work, "patch");
  await mkdir(top, { recursive: true });
  await must("tar", ["-xzf", tarball, "-C", top]);
  const from = join(top, `kubernetes-${FROM}`);
  const tree = join(top, `kubernetes-${TO}`);
  await rename(from, tree);
  const edit = async (rel, change) => {
    const file = join(tree, rel);
    const before = await readFile(file, "utf8");
    const after = change(before);
    if (after === before) throw new Error(`${rel}: the change to make a ${TO} tree did not apply`);
    await writeFile(file, after);
  };
  await edit("hack/lib/version.sh", (t) => t.replaceAll(`tag: v${FROM}`, `tag: v${TO}`));
  // A release's own changelog entry is committed after its tag: the 1.20.3 tree has v1.20.2's.
  await edit("CHANGELOG/CHANGELOG-1.20.md", (t) =>
    t.replace(
      /^# v1\.20\.1$/m,
      `# v${FROM}\n\n(the entry of v${FROM}, as the ${TO} tree has it)\n\n# v1.20.1`,
    ),
  );
  for (const [i, rel] of PATCHED.entries())
    await appendFile(
      join(tree, rel),
      `\n// PatchReleaseNote${i} is what a patch release changed in this package.\nconst PatchReleaseNote${i} = "v${TO}"\n`,
    );
  const out = join(work, `kubernetes-${TO}-like-src.tar.gz`);
  // Reproducible: sorted names, fixed owner and mtime, no gzip name or time.
  await must("sh", [
    "-c",
    'tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1611000000 -C "$1" -cf - "$2" | gzip -n -6 > "$3"',
    "sh",
    top,
    `kubernetes-${TO}`,
    out,
  ]);
  const sha512 = (await must("sha512sum", [out])).stdout.split(" ")[0];
  return { tarball: out, sha512, tree };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.render) {
    const res = JSON.parse(await readFile(o.render, "utf8"));
    if (o.logs) await phasesFromLogs(res, o.logs);
    await write(o, res);
    return;
  }
  const work = await mkdtemp(join(process.env.TMPDIR ?? "/var/tmp", "kmem-real-matrix-"));
  const resultsFile = o.results ?? join(work, "results.json");
  const res = { arches: o.arches, image: IMAGE, runs: [], started: new Date().toISOString() };
  const save = async () => {
    await writeFile(`${resultsFile}.tmp`, JSON.stringify(res, null, 2));
    await rename(`${resultsFile}.tmp`, resultsFile);
  };
  try {
    res.machine = await machineInfo();
    const tarball = (await must("sh", [join(ROOT, "scripts", "real-source.sh")])).stdout.trim();
    const sha512 = (await must("sha512sum", [tarball])).stdout.split(" ")[0];
    log(`making the ${TO}-like release from ${tarball}`);
    const patch = await makePatchRelease(tarball, work);
    res.patched = PATCHED;
    log(`${patch.tarball} sha512 ${patch.sha512.slice(0, 16)}…`);

    const run = async (what, arch, version, source, cache, extra = []) => {
      const loadBefore = load();
      const out = join(work, "out");
      log(`${what} ${arch}: start, load ${loadBefore}`);
      const r = await timed(
        process.execPath,
        [CLI, "build", "--kubernetes", version, "--arch", arch, "--source", source, ...extra].concat([
          "--image",
          IMAGE,
          "--engine",
          "podman",
          "--cache-dir",
          cache,
          "--out",
          out,
          "--json",
        ]),
        { env: { ...process.env, CI: "true" } },
      );
      const loadAfter = load();
      if (r.code !== 0) throw new Error(`${what} ${arch} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
      const json = JSON.parse(r.stdout);
      const phases = phasesOf(await readFile(join(json.outDir, "build.log"), "utf8").catch(() => ""));
      const du = Number((await must("du", ["-sb", cache])).stdout.split("\t")[0]);
      const entry = {
        what,
        arch,
        version,
        seconds: r.seconds,
        compiled: json.compiled,
        loadBefore,
        loadAfter,
        cacheBytes: du,
        phases,
      };
      res.runs.push(entry);
      await save();
      log(
        `${what} ${arch}: ${r.seconds.toFixed(1)} s, compiled [${json.compiled}], load ${loadBefore} -> ${loadAfter}, cache ${(du / 2 ** 30).toFixed(2)} GiB`,
      );
      return entry;
    };

    const caches = {};
    for (const arch of o.arches) {
      caches[arch] = join(work, `cache-${arch}`);
      await run("cold", arch, FROM, tarball, caches[arch], ["--sha512", sha512]);
      await run("patch", arch, TO, patch.tarball, caches[arch], ["--sha512", patch.sha512]);
      // The same second release as it was built before the recipe could skip the code generators
      // (its Go build cache is now warm for every package: only the generators cost more).
      if (o.generators)
        await run("patch, generators run", arch, TO, patch.tarball, caches[arch], [
          "--sha512",
          patch.sha512,
          "--run-generators",
        ]);
    }
    const cache = caches.amd64 ?? caches[o.arches[0]];
    const arch = caches.amd64 ? "amd64" : o.arches[0];
    if (o.control) await run("control", arch, TO, patch.tree, cache);
    const sub = async (only, runs) => {
      const loadBefore = load();
      const r = await must(process.execPath, [
        join(ROOT, "bench", "real-release.mjs"),
        "--only",
        only,
        "--arches",
        arch,
        "--runs",
        String(runs),
        "--cache",
        cache,
        "--out",
        "-",
      ]);
      res[only] = { markdown: r.stdout, loadBefore, loadAfter: load(), seconds: r.seconds };
      await save();
      log(`${only}: done in ${r.seconds.toFixed(0)} s`);
    };
    if (o.noop) await sub("noop", 3);
    if (o.pairs > 0) await sub("overhead", o.pairs);
    res.finished = new Date().toISOString();
    await save();
    await write(o, res);
  } finally {
    if (!o.results) log(`results: ${resultsFile} (kept)`);
    // The tree, tarball, caches and outputs are gigabytes; the results file is all that is kept.
    await rm(join(work, "patch"), { recursive: true, force: true });
    for (const d of ["out", ...o.arches.map((a) => `cache-${a}`)])
      await rm(join(work, d), { recursive: true, force: true });
    await rm(join(work, `kubernetes-${TO}-like-src.tar.gz`), { force: true });
    if (o.results) await rm(work, { recursive: true, force: true });
  }
}

const f1 = (x) => x.toFixed(1);

/**
 * Where a build's time went, from the time stamps of its build.log (seconds): before the container
 * (custody, extraction, image and tree checks), the make run up to the kubelet's own `go build`
 * (Kubernetes' code generators, built and run over the tree), the kubelet's compile and link, the
 * inspection and RPM. Null when the log does not have these lines.
 */
export function phasesOf(log) {
  const lines = log.split("\n").map((l) => ({ t: Date.parse(l.slice(0, 24)), text: l.slice(25) }));
  const run = lines.findIndex((l) => /^\$ \S+ run /.test(l.text));
  const kubelet = lines.findIndex((l, i) => i > run && /^\[\w+\]\s+cmd\/kubelet$/.test(l.text));
  const inspect = lines.findIndex((l, i) => i > kubelet && /^inspect \w+: /.test(l.text));
  if (run < 0 || kubelet < 0 || inspect < 0) return null;
  const rpms = lines.filter((l) => /^\[rpm \w+\]/.test(l.text));
  const last = rpms.length ? rpms[rpms.length - 1].t : lines[inspect].t;
  const s = (a, b) => (b - a) / 1000;
  const p = {
    before: s(lines[0].t, lines[run].t),
    generators: s(lines[run].t, lines[kubelet].t),
    kubelet: s(lines[kubelet].t, lines[inspect].t),
    rpm: s(lines[inspect].t, last),
  };
  return Object.values(p).every(Number.isFinite) ? p : null;
}

/** Gives runs without phases those of their build.log copies in `dir` (one per run, in time order). */
async function phasesFromLogs(res, dir) {
  const logs = new Map();
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".log"))) {
    const text = await readFile(join(dir, name), "utf8");
    logs.set(text.slice(0, 24), text);
  }
  const sorted = [...logs.keys()].sort().map((k) => logs.get(k));
  if (sorted.length !== res.runs.length)
    throw new Error(`${dir}: ${sorted.length} build logs for ${res.runs.length} runs`);
  res.runs.forEach((r, i) => {
    if (!sorted[i].includes(`kmem-build: Kubernetes ${r.version},`))
      throw new Error(`${dir}: the build log of run ${i + 1} is not of ${r.version}`);
    r.phases ??= phasesOf(sorted[i]);
  });
}

export function render(res) {
  const byArch = (what, arch) => res.runs.find((r) => r.what === what && r.arch === arch);
  const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const ph = (r, k) => (r.phases ? f1(r.phases[k]) : "n/a");
  const rows = res.runs.map(
    (r) =>
      `| ${r.what} | ${r.arch} | ${r.version}${r.what === "control" ? " (--source DIR)" : ""} | ${f1(r.seconds)} | ${ph(r, "before")} | ${ph(r, "generators")} | ${ph(r, "kubelet")} | ${ph(r, "rpm")} | ${r.phases ? f1(r.seconds - r.phases.before - r.phases.generators - r.phases.kubelet - r.phases.rpm) : "n/a"} | ${r.compiled.join(", ") || "none"} | ${gib(r.cacheBytes)} | ${r.loadBefore} → ${r.loadAfter} |`,
  );
  const fixed = (r) => r.phases.before + r.phases.generators + r.phases.rpm;
  const verdicts = res.arches
    .map((arch) => {
      const c = byArch("cold", arch);
      const p = byArch("patch", arch);
      if (!c || !p) return `- ${arch}: not measured (the run stopped before it)`;
      const ratio = p.seconds / c.seconds;
      const parts =
        c.phases && p.phases
          ? `; the kubelet's own \`go build\` ${f1(p.phases.kubelet)} s against ${f1(c.phases.kubelet)} s (${(p.phases.kubelet / c.phases.kubelet).toFixed(2)}×), while what the Go build cache hardly shortens (before the container, the generators, the RPM) took ${f1(fixed(p))} s, ${(fixed(p) / c.seconds).toFixed(2)}× the cold build by itself`
          : "";
      const g = byArch("patch, generators run", arch);
      const withGen = g
        ? `; built with the code generators run (\`--run-generators\`, as before tag-era could skip them) the same release took ${f1(g.seconds)} s, ${(g.seconds / c.seconds).toFixed(2)}× the cold build`
        : "";
      return `- ${arch}: ${f1(p.seconds)} s / ${f1(c.seconds)} s = **${ratio.toFixed(2)}×** the cold build (target ≤ 0.3×): ${ratio <= 0.3 ? "**met**" : "**not met**"}${parts}${withGen}`;
    })
    .join("\n");
  const ctl = res.runs.find((r) => r.what === "control");
  const ctlCold = ctl && byArch("cold", ctl.arch);
  const m = res.machine;
  return `## A patch release after a cold build, real tree (\`node bench/real-matrix.mjs\`)

The genuine ${FROM} tree (Debian's orig tarball) and a ${TO}-like release made from it as a patch
release changes a tree: \`hack/lib/version.sh\` archived from the tag v${TO}, the v${FROM} entry in
\`CHANGELOG/CHANGELOG-1.20.md\`, and an exported const added to ${res.patched.length} packages the kubelet links
(${res.patched.map((p) => `\`${dirname(p).replace(/^vendor\//, "")}\``).join(", ")}), re-tarred.
Both are built as verified sources (\`--source … --sha512 …\`), so they share \`<cache>/go/verified\`.
Each arch has its own cache directory, empty before its cold build; RPMs included; \`${res.image}\`.
Machine: ${m.cores} cores (${m.cpu}), shared with other engineers (the 1-minute load average is
given for every run); ${res.started}.

Phases (seconds, from the time stamps of each build's build.log): *before* the container (custody
copy and sha512, extraction, image and tree checks), *generators* (from the container's start to the
kubelet's own \`go build\`: where \`make\` runs, Kubernetes' code generators built and run over the
whole tree; where the recipe builds without them, the container start alone),
*kubelet* (its \`go build\`, compile and link, and the inspection), *RPM* (rpmbuild), *other*
(the rest of the wall time: node start, fetch and custody before the log's first line, staging).

| run | arch | version | seconds | before | generators | kubelet | RPM | other | compiled | cache after | load before → after |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Second release against the cold build, per arch:
${verdicts}
${ctl && ctlCold ? `\nControl: the same ${TO}-like tree as an unverified \`--source DIR\` gets its own Go build cache (named by the tree's digest): ${f1(ctl.seconds)} s, ${(ctl.seconds / ctlCold.seconds).toFixed(2)}× the cold build of ${ctl.arch}.\n` : ""}
${res.noop ? `The no-op and overhead figures, on the amd64 cache afterwards (compare the real-release sections above):\n\n${res.noop.markdown.replace(/^### /, "#### ")}` : ""}
${res.overhead ? `\n${res.overhead.markdown.replace(/^### /, "#### ")}` : ""}
${res.notes ? `\n${res.notes}` : ""}`;
}

async function write(o, res) {
  const md = render(res);
  if (o.out === "-") {
    process.stdout.write(md);
    return;
  }
  let text = await readFile(o.out, "utf8").catch(() => "");
  const section = `${BEGIN}\n${md}${END}`;
  text = text.includes(BEGIN)
    ? text.slice(0, text.indexOf(BEGIN)) + section + text.slice(text.indexOf(END) + END.length)
    : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(`${o.out}.tmp`, text);
  await rename(`${o.out}.tmp`, o.out);
  log(`written to ${o.out}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main().catch((err) => {
    process.stderr.write(`bench real-matrix: ${err.stack ?? err}\n`);
    process.exit(1);
  });
