/** A lock file (O_EXCL) so two runs never write into the same directory at once. */
import { open, readFile, rm, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { BuildError } from "../errors.js";

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function acquireLock(dir: string, purpose: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, ".kmem-build.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(`${process.pid}\n${purpose}\n`);
      await fh.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const [pid, what] = (await readFile(file, "utf8").catch(() => "")).split("\n");
      if (pid && alive(Number(pid))) {
        throw new BuildError(
          `${dir} is in use by another kmem-build (pid ${pid}: ${what || "unknown"})`,
          "wait for it to finish, or use another --out directory",
        );
      }
      await rm(file, { force: true }); // left by a run that died
    }
  }
  throw new BuildError(`could not lock ${dir}`, `remove ${file} if no kmem-build is running`);
}
