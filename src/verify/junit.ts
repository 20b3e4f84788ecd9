/** JUnit XML for CI dashboards: one testsuite per host, one testcase per check and one for the fix state. */
import { CHECK_IDS, type Check, type FixState, type FleetReport, type HostOutcome } from "./report.js";

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

/** Fix states where nothing of the fix is left (the only ones --gate passes). */
export const DONE_STATES: readonly FixState[] = ["fixed", "not-affected"];

export interface JUnitOptions {
  /** verify ran with --gate: the fix-state testcase fails unless the node is fixed or not-affected. */
  gate: boolean;
}

type Outcome =
  | { kind: "pass"; out: string }
  | { kind: "failure" | "error"; type: string; message: string; detail: string };

/**
 * What each result becomes (docs/verify.md, "JUnit"): the file has a failure or an error exactly where
 * verify's exit code is not 0, so a CI job that reads it fails where the step does.
 * - a check that FAILed: <failure type="FAIL">;
 * - a check that could not tell (conclusive false): <error type="UNKNOWN">;
 * - WARN, PASS, INFO: pass, the text in <system-out> ("WARN: ..."): a WARN never changes the exit code;
 * - per host, one testcase "fix-state": an unknown state is an <error type="UNKNOWN"> (exit 2); with
 *   --gate a state with a step left (install, restart, reboot, runtime, kernel) is a
 *   <failure type="GATE">; otherwise it passes and names the state and the next step;
 * - a host that could not be checked: every testcase is an <error type="UNREACHABLE">.
 */
function checkOutcome(c: Check): Outcome {
  const detail = [c.seen, c.cause ? `cause: ${c.cause}` : "", c.remedy ? `fix: ${c.remedy}` : ""]
    .filter(Boolean)
    .join("\n");
  if (c.status === "FAIL") return { kind: "failure", type: "FAIL", message: c.seen, detail };
  if (!c.conclusive) return { kind: "error", type: "UNKNOWN", message: `could not tell: ${c.seen}`, detail };
  return { kind: "pass", out: `${c.status}: ${detail}` };
}

function fixStateOutcome(h: HostOutcome, o: JUnitOptions): Outcome {
  const r = h.report!;
  const state = r.fix_state ?? "unknown"; // reports of older scripts have none
  const text = `fix state ${state}: ${r.fix_summary ?? ""}\nnext step: ${r.next_step ?? ""}`;
  if (state === "unknown" && (o.gate || h.exit_code === 2))
    return {
      kind: "error",
      type: "UNKNOWN",
      message: `fix state unknown: ${r.fix_summary ?? ""}`,
      detail: text,
    };
  if (o.gate && !DONE_STATES.includes(state))
    return {
      kind: "failure",
      type: "GATE",
      message: `fix state ${state}: next step: ${r.next_step}`,
      detail: text,
    };
  return { kind: "pass", out: text };
}

function testcase(classname: string, name: string, r: Outcome): string {
  const head = `    <testcase${attr({ classname, name, time: 0 })}>`;
  if (r.kind === "pass")
    return `${head}\n      <system-out>${xmlEscape(r.out)}</system-out>\n    </testcase>`;
  return `${head}\n      <${r.kind}${attr({ message: r.message, type: r.type })}>${xmlEscape(r.detail)}</${r.kind}>\n    </testcase>`;
}

export function toJUnit(f: FleetReport, o: JUnitOptions = { gate: false }): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  for (const h of f.hosts) {
    const classname = `kmem-build.verify.${h.host}`;
    const results: [string, Outcome][] = h.report
      ? [
          ...h.report.checks.map((c): [string, Outcome] => [c.id, checkOutcome(c)]),
          ["fix-state", fixStateOutcome(h, o)],
        ]
      : [...CHECK_IDS, "fix-state"].map((id): [string, Outcome] => [
          id,
          {
            kind: "error",
            type: "UNREACHABLE",
            message: `host not checked: ${h.error ?? "unknown"}`,
            detail: h.error ?? "",
          },
        ]);
    const s = {
      tests: results.length,
      failures: results.filter(([, r]) => r.kind === "failure").length,
      errors: results.filter(([, r]) => r.kind === "error").length,
      skipped: 0,
    };
    tests += s.tests;
    failures += s.failures;
    errors += s.errors;
    const props = h.report
      ? `    <properties>\n${[
          ["result", h.result],
          ["exit_code", String(h.exit_code)],
          ["fix_state", h.report.fix_state ?? ""],
          ["next_step", h.report.next_step ?? ""],
          ["gate", String(o.gate)],
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
      `  <testsuite${attr({ name: h.host, ...s, time: h.seconds.toFixed(3), timestamp: h.report?.timestamp ?? f.timestamp })}>\n${props}${results.map(([id, r]) => testcase(classname, id, r)).join("\n")}\n  </testsuite>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attr({ name: "kmem-build verify", tests, failures, errors, skipped: 0 })}>\n${suites.join("\n")}\n</testsuites>\n`
  );
}
