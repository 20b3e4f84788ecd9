/** JUnit XML for CI dashboards: one testsuite per host, one testcase per check (kube-bench style). */
import { CHECK_IDS, type FleetReport } from "./report.js";

/** XML 1.0 text: escapes markup and drops characters XML cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const attr = (o: Record<string, string | number>) =>
  Object.entries(o)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join("");

/**
 * PASS and INFO pass, FAIL is a <failure>, WARN is <skipped> (as kube-bench does), and every check of a
 * host that could not be reached is an <error>.
 */
export function toJUnit(f: FleetReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const h of f.hosts) {
    const cases: string[] = [];
    const s = { tests: 0, failures: 0, errors: 0, skipped: 0 };
    const classname = `kmem-build.verify.${h.host}`;
    if (!h.report) {
      for (const id of CHECK_IDS) {
        s.tests++;
        s.errors++;
        cases.push(
          `    <testcase${attr({ classname, name: id, time: 0 })}>\n      <error${attr({ message: `host not checked: ${h.error ?? "unknown"}`, type: "UNKNOWN" })}/>\n    </testcase>`,
        );
      }
    } else {
      for (const c of h.report.checks) {
        s.tests++;
        const head = `    <testcase${attr({ classname, name: c.id, time: 0 })}>`;
        const detail = xmlEscape(
          [c.seen, c.cause ? `cause: ${c.cause}` : "", c.remedy ? `fix: ${c.remedy}` : ""]
            .filter(Boolean)
            .join("\n"),
        );
        if (c.status === "FAIL") {
          s.failures++;
          cases.push(
            `${head}\n      <failure${attr({ message: c.seen, type: "FAIL" })}>${detail}</failure>\n    </testcase>`,
          );
        } else if (c.status === "WARN") {
          s.skipped++;
          cases.push(`${head}\n      <skipped${attr({ message: `WARN: ${c.seen}` })}/>\n    </testcase>`);
        } else {
          cases.push(
            `${head}\n      <system-out>${xmlEscape(`${c.status}: ${c.seen}`)}</system-out>\n    </testcase>`,
          );
        }
      }
    }
    tests += s.tests;
    failures += s.failures;
    errors += s.errors;
    skipped += s.skipped;
    const props = h.report
      ? `    <properties>\n${[
          ["result", h.result],
          ["node", h.report.node.hostname ?? ""],
          ["kernel", h.report.node.kernel ?? ""],
          ["cgroup_layout", h.report.node.cgroup_layout],
          ["oom_kills", String(h.report.oom_kills?.length ?? 0)],
          ["oom_kills_kmem", String(h.report.oom_kills?.filter((k) => k.kmem_caused).length ?? 0)],
        ]
          .map(([n, v]) => `      <property${attr({ name: n!, value: v! })}/>`)
          .join("\n")}\n    </properties>\n`
      : "";
    suites.push(
      `  <testsuite${attr({ name: h.host, ...s, time: h.seconds.toFixed(3), timestamp: h.report?.timestamp ?? f.timestamp })}>\n${props}${cases.join("\n")}\n  </testsuite>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attr({ name: "kmem-build verify", tests, failures, errors, skipped })}>\n${suites.join("\n")}\n</testsuites>\n`
  );
}
