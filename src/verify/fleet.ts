/** Many host outcomes → one fleet report; the exit code is the worst over hosts. */
import { checkedOutcome } from "./node-report-check.js";
import { resultCounts, resultOf, type FleetReport, type HostOutcome } from "./report.js";

/** 1 if any host has a problem, else 2 if any host could not be checked, else 0. */
export function worstExitCode(hosts: readonly HostOutcome[]): 0 | 1 | 2 {
  if (hosts.some((h) => h.exit_code === 1)) return 1;
  if (hosts.some((h) => h.exit_code === 2)) return 2;
  return 0;
}

/** Each host's report is checked first: an invalid one is that host's UNKNOWN, with the reason. */
export function fleetReport(outcomes: HostOutcome[], now = new Date()): FleetReport {
  const hosts = outcomes.map(checkedOutcome);
  const code = worstExitCode(hosts);
  return {
    schema_version: 1,
    kind: "fleet",
    timestamp: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    result: resultOf(code),
    exit_code: code,
    totals: { hosts: hosts.length, ...resultCounts(hosts) },
    hosts,
  };
}
