/** Runs a command under strace and lists every file system change it attempted under a directory. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const HAVE_STRACE = spawnSync("strace", ["-V"]).status === 0;

/** Syscalls on paths that only look. */
const READ_ONLY =
  /^(stat|lstat|fstat|newfstatat|fstatat64|statx|statfs|fstatfs|access|faccessat2?|readlink(at)?|getxattr|lgetxattr|listxattr|llistxattr|execve|execveat|chdir|getcwd|inotify_add_watch)$/;
const WRITE_FLAGS = /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/;

export interface Traced {
  code: number | null;
  stdout: string;
  /** Every syscall line touching `under` that could change something. */
  writes: string[];
  /** All syscall lines touching `under`. */
  lines: string[];
  log: string;
}

export function straceRun(cmd: string[], under: string, env: NodeJS.ProcessEnv = process.env): Traced {
  const dir = mkdtempSync(join(tmpdir(), "verify-strace-"));
  const logFile = join(dir, "log");
  try {
    // -y prints the path behind each fd, so openat(dirfd, "name") relative to a cgroup dir is seen too
    const r = spawnSync("strace", ["-f", "-qq", "-y", "-e", "trace=%file,%desc", "-o", logFile, ...cmd], {
      encoding: "utf8",
      env,
      maxBuffer: 64 << 20,
    });
    const log = readFileSync(logFile, "utf8");
    const lines = log.split("\n").filter((l) => l.includes(under));
    const writes = lines.filter((l) => {
      const m = /^(?:\d+ +)?([a-z0-9_]+)\(/.exec(l);
      if (!m) return false;
      const sys = m[1]!;
      if (sys === "open" || sys === "openat" || sys === "openat2" || sys === "creat")
        return sys === "creat" || WRITE_FLAGS.test(l);
      if (
        /^(write|writev|pwrite64|pwritev2?|ftruncate|fallocate|fchmod|fchown|fsetxattr|fremovexattr)$/.test(
          sys,
        )
      ) {
        // a write through an fd: only a problem if that fd is a file under `under`
        const fd = /^(?:\d+ +)?[a-z0-9_]+\(\d+<([^>]*)>/.exec(l);
        return !!fd && fd[1]!.startsWith(under);
      }
      if (
        /^(read|pread64|readv|close|lseek|fcntl|ioctl|getdents64|getdents|dup2?|dup3|mmap|fadvise64|fstat|newfstatat|fstatfs|flock|poll|select|pselect6|epoll_\w+|sendfile|splice|tee|copy_file_range)$/.test(
          sys,
        )
      )
        return false;
      return !READ_ONLY.test(sys);
    });
    return { code: r.status, stdout: r.stdout, writes, lines, log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
