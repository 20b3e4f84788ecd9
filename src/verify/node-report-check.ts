/**
 * A node's report is hostile input: the node (or whoever controls it) writes it. Each one is checked
 * against schemas/verify-report.schema.json (loaded, not copied: the schema may grow) and for a
 * verdict that agrees with its own checks, before anything reads it as a result.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { PKG_ROOT } from "../version.js";
import { resultOf, type HostOutcome, type NodeReport } from "./report.js";

export const REPORT_SCHEMA = join(PKG_ROOT, "schemas", "verify-report.schema.json");

let validator: ValidateFunction | undefined;
function nodeReportValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(REPORT_SCHEMA, "utf8")) as { $id?: string };
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema(schema, "report");
    validator = ajv.getSchema("report#/definitions/nodeReport")!;
  }
  return validator;
}

/** Why `r` is not a node report to trust, or null when it is one. */
export function nodeReportProblem(r: unknown): string | null {
  const validate = nodeReportValidator();
  if (!validate(r)) {
    const errs = validate.errors ?? [];
    const shown = errs
      .slice(0, 3)
      .map((e) => `${e.instancePath || "report"} ${e.message ?? "is invalid"}`)
      .join("; ");
    return `does not match schemas/verify-report.schema.json: ${shown}${errs.length > 3 ? ` (+${errs.length - 3} more)` : ""}`;
  }
  const rep = r as NodeReport;
  if (rep.result !== resultOf(rep.exit_code))
    return `result ${rep.result} does not go with exit code ${rep.exit_code}`;
  if (rep.checks.length === 0) return "it holds no checks";
  const count = { pass: 0, fail: 0, warn: 0, info: 0 };
  for (const c of rep.checks) count[c.status.toLowerCase() as keyof typeof count]++;
  for (const k of Object.keys(count) as (keyof typeof count)[])
    if (rep.totals[k] !== count[k])
      return `totals.${k} is ${rep.totals[k]}, but ${count[k]} checks say ${k.toUpperCase()}`;
  const fails = count.fail > 0;
  const inconclusive = rep.checks.some((c) => !c.conclusive);
  const expected = fails ? 1 : inconclusive ? 2 : 0;
  // only a verdict better than its checks is refused (a stricter one misleads nobody)
  if (expected === 1 ? rep.exit_code !== 1 : expected === 2 && rep.exit_code === 0)
    return `exit code ${rep.exit_code}, but its checks make it ${expected} (${fails ? "a check FAILed" : inconclusive ? "a check could not tell" : "every check conclusive"})`;
  return null;
}

/** The host's outcome with an untrustworthy report turned into that host's UNKNOWN, with the reason. */
export function checkedOutcome(h: HostOutcome): HostOutcome {
  if (!h.report) return h;
  const problem = nodeReportProblem(h.report);
  if (!problem) return h;
  return { ...h, result: "UNKNOWN", exit_code: 2, error: `invalid report: ${problem}`, report: null };
}
