// Renders templates/kubelet.spec.in exactly as src/package/rpm.ts does for a build of the
// example release, with the project's own code (lib/), and prints it on stdout.
//   node bench/lib/render-spec.mjs VERSION RELEASE EVIDENCE SOURCE_DATE_EPOCH
import { renderKubeletSpec } from "../../lib/package/rpm.js";

const [version = "1.20.15", release = "2.nokmem", evidence = "nokmem-variant-linked", epoch = "0"] =
  process.argv.slice(2);
process.stdout.write(
  await renderKubeletSpec({ version, release, evidence, withVerify: true, sourceDateEpoch: Number(epoch) }),
);
