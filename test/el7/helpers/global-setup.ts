/** Once per run of the el7 project: where the tier cannot run, one line says why (the files skip themselves). */
import { unavailable } from "./vm.js";

export default function setup(): void {
  const why = unavailable();
  if (why) console.log(`el7 tier skipped: ${why}`);
}
