// `npm run bench`: every benchmark of issue #7, results written to BENCHMARKS.md.
//
//   node bench/run.mjs [--short] [--runs N] [--out FILE|-] [--no-build] [--no-large] [--only build|verify]
//
//   --short      CI mode: 2 runs, one cold build, no kubelet-sized build (under 2 minutes here)
//   --runs N     runs per figure (default 5; --short: 2)
//   --out FILE   where the report goes (default BENCHMARKS.md at the repository root; - = stdout)
//   --no-build   do not run `npm run build` first (lib/ must be current)
//   --no-large   skip the kubelet-sized build (slow: ~100 MB binaries, gzip -9 RPM payloads)
//   --only X     only the build benchmarks (bench/build.mjs) or only the verify ones
//
// The verify benchmarks belong to their own scripts (bench/verify-tree.mjs, bench/verify-fleet.mjs,
// bench/verify-oom-log.mjs): each bench/verify-tree.* / verify-fleet.* / verify-oom-log.* (.mjs, .js:
// node; .sh: sh) that exists is run with
// `--short` in short mode and `--runs N` when --runs was given (else its own default), plus the
// environment KMEM_BENCH_SHORT=0|1 and KMEM_BENCH_EMBED=1. Its stdout becomes its section of
// BENCHMARKS.md: Markdown is kept as it is (a leading "## " heading is kept, otherwise one is added),
// anything else goes into a text block. It exits 0 unless something broke. While a script does not
// exist, its section keeps whatever BENCHMARKS.md already had.
//
// Nothing fails on a number: the exit code is 1 only when a benchmark could not run or found the
// tool misbehaving (e.g. a no-op build that compiled, outputs that differ from the plain way).
import { spawn } from "node:child_process";
import { readFile, readdir, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout, clearTimeout } from "node:timers";
import { ROOT, IMAGE, runBuildBench, renderBuild } from "./build.mjs";
import { machineInfo, timed } from "./lib/util.mjs";

const VERIFY_SECTIONS = [
  { prefix: "verify-tree", heading: "## Verify: the 65,536-cgroup tree" },
  { prefix: "verify-fleet", heading: "## Verify: a fleet of 20 ssh targets" },
  { prefix: "verify-oom-log", heading: "## Verify: OOM kills in a 1 GiB kernel log" },
  { prefix: "verify-cache", heading: "## Verify: the binary verdict cache (--cache-dir)" },
  { prefix: "cache-matrix", heading: "## Build: a release matrix through one cache" },
];

function parseArgs(argv) {
  const o = {
    short: false,
    runs: null,
    out: join(ROOT, "BENCHMARKS.md"),
    build: true,
    large: true,
    only: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--short") o.short = true;
    else if (a === "--runs") {
      o.runs = Number(argv[++i]);
      o.runsGiven = true;
    } else if (a === "--out") o.out = argv[++i];
    else if (a === "--no-build") o.build = false;
    else if (a === "--no-large") o.large = false;
    else if (a === "--only") o.only = argv[++i];
    else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "usage: node bench/run.mjs [--short] [--runs N] [--out FILE|-] [--no-build] [--no-large] [--only build|verify]\n",
      );
      process.exit(0);
    } else {
      process.stderr.write(`bench: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  o.runs ??= o.short ? 2 : 5;
  if (!Number.isInteger(o.runs) || o.runs < 1) {
    process.stderr.write("bench: --runs must be a positive integer\n");
    process.exit(2);
  }
  if (o.only && o.only !== "build" && o.only !== "verify") {
    process.stderr.write("bench: --only takes build or verify\n");
    process.exit(2);
  }
  return o;
}

const log = (l) => process.stderr.write(`bench: ${l}\n`);

/** Runs one verify-* script; its stdout is its section. Streams its stderr through. */
function runSection(file, o) {
  const cmd = file.endsWith(".sh") ? "sh" : process.execPath;
  const limit = (o.short ? 5 : 60) * 60_000;
  return new Promise((resolve) => {
    const started = Date.now();
    const args = [...(o.short ? ["--short"] : []), ...(o.runsGiven ? ["--runs", String(o.runs)] : [])];
    const child = spawn(cmd, [join(ROOT, "bench", file), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        KMEM_BENCH_SHORT: o.short ? "1" : "0",
        KMEM_BENCH_EMBED: "1",
      },
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c.toString("utf8")));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
    }, limit);
    child.on("error", (err) => resolve({ code: 127, out, error: err.message }));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? 1),
        out,
        seconds: (Date.now() - started) / 1000,
        error: timedOut ? `timed out after ${limit / 60000} minutes` : null,
      });
    });
  });
}

const args = (o) => `${o.short ? " --short" : ""}${o.runsGiven ? ` --runs ${o.runs}` : ""}`;

/** "## Heading" → its text (up to the next "## "), from an existing BENCHMARKS.md. */
function sectionsOf(markdown) {
  const map = new Map();
  const parts = markdown.split(/^(?=## )/m);
  for (const p of parts) if (p.startsWith("## ")) map.set(p.split("\n")[0].trim(), p.trimEnd() + "\n");
  return map;
}

function machineTable(m) {
  return `## Machine

| | |
|---|---|
| date | ${m.date} |
| CPU | ${m.cpu} |
| cores | ${m.cores} |
| memory | ${m.memoryGiB} GiB |
| kernel | ${m.kernel} |
| podman | ${m.podman} |
| rpmbuild | ${m.rpmbuild} |
| node | ${m.node} |
| builder image | ${IMAGE} (Go from Debian bookworm) |
| load average at start (1, 5, 15 min) | ${m.loadavg.join(", ")} |
`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const problems = [];
  if (o.build) {
    log("npm run build");
    const r = await timed("npm", ["run", "build"], { cwd: ROOT });
    if (r.code !== 0) {
      process.stderr.write(r.stdout + r.stderr);
      log("npm run build failed");
      process.exit(1);
    }
  }
  const machine = await machineInfo();
  const previous = await readFile(o.out === "-" ? "/nonexistent" : o.out, "utf8").then(
    sectionsOf,
    () => new Map(),
  );
  const sections = [];

  if (o.only !== "verify") {
    try {
      const r = await runBuildBench({ runs: o.runs, short: o.short, large: o.large && !o.short, log });
      sections.push(renderBuild(r));
      // What profiling found and what was changed: prose kept by hand in bench/notes.md.
      const notes = await readFile(join(ROOT, "bench", "notes.md"), "utf8").catch(() => "");
      if (notes.trim()) sections.push(notes.trimEnd() + "\n");
      if (r.loadavgEnd) machine.loadavgEnd = r.loadavgEnd;
    } catch (err) {
      problems.push(`build benchmarks: ${err.message}`);
      sections.push(`## Build\n\nThe build benchmarks did not complete:\n\n\`\`\`\n${err.message}\n\`\`\`\n`);
    }
  }

  if (o.only !== "build") {
    const files = await readdir(join(ROOT, "bench")).catch(() => []);
    for (const s of VERIFY_SECTIONS) {
      const scripts = files.filter((f) => f.startsWith(`${s.prefix}.`) && /\.(mjs|js|sh)$/.test(f)).sort();
      if (!scripts.length) {
        log(`no bench/${s.prefix}.* yet: keeping its section as it was`);
        sections.push(
          previous.get(s.heading) ??
            `${s.heading}\n\nNot measured yet: \`bench/${s.prefix}.*\` does not exist. \`bench/run.mjs\` runs it once it does.\n`,
        );
        continue;
      }
      for (const f of scripts) {
        log(`bench/${f}${args(o)}`);
        const r = await runSection(f, o);
        let body = r.out.trim();
        if (r.code !== 0) {
          problems.push(`bench/${f}: exit ${r.code}${r.error ? ` (${r.error})` : ""}`);
          body = `${body}\n\nbench/${f} failed: exit ${r.code}${r.error ? ` (${r.error})` : ""}.`.trim();
        }
        if (!body) body = `bench/${f} printed nothing.`;
        else if (!/^(#|\||- |\* )/m.test(body))
          body = `\`bench/${f}${args(o)}\`:\n\n\`\`\`text\n${body}\n\`\`\``;
        sections.push(body.startsWith("## ") ? body + "\n" : `${s.heading}\n\n${body}\n`);
      }
    }
  }

  const mode = `\`node bench/run.mjs${o.short ? " --short" : ""}\` (${o.runs} runs per figure)`;
  const report = `# Benchmarks

How fast the toolchain is, measured against the plain way of doing the same work (issue #7).
Generated by \`npm run bench\` (\`node bench/run.mjs\`; \`--short\` in CI); this file was written by
${mode}, which took ${Math.round((Date.now() - t0) / 1000)} s. Every figure is min / median / max over the runs. Nothing
fails on a number: these are measurements, not timed tests. The machine is shared by other work
while benchmarks run (see the load average), so single runs can be noisy; the medians and the
alternated tool/script pairs are what to read.

${machineTable(machine)}${machine.loadavgEnd ? `\nLoad average at the end of the build benchmarks: ${machine.loadavgEnd.join(", ")}.\n` : ""}
${sections.join("\n")}`;
  if (o.out === "-") process.stdout.write(report);
  else {
    await writeFile(`${o.out}.partial`, report);
    await rename(`${o.out}.partial`, o.out);
    log(`wrote ${o.out}`);
  }
  if (problems.length) {
    for (const p of problems) log(`FAILED: ${p}`);
    process.exit(1);
  }
  log(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
}

main().catch((err) => {
  log(err.stack ?? String(err));
  process.exit(1);
});
