# shellcheck shell=sh
# Sourced by every script the EL7 tier runs inside the VM (test/el7/helpers/vm.ts): the node's pieces as
# the real ones make them.  busybox sh; the memory controller is at /sys/fs/cgroup/memory with
# memory.use_hierarchy=1 at its root (run-vm.sh's /init, as systemd sets it on EL7).
M=/sys/fs/cgroup/memory
KUBELET=/usr/bin/kubelet
KUBELET_PID=""
KUBELET_KIND=""
dmesg -n 1

say() { echo "@@SAY $*"; }

# runc's EnableKernelMemoryAccounting (libcontainer/cgroups/fs/kmem.go, rc92): 1, then -1, to
# memory.kmem.limit_in_bytes of a cgroup it has just created.
arm() {
  echo 1 >"$M/$1/memory.kmem.limit_in_bytes" && echo -1 >"$M/$1/memory.kmem.limit_in_bytes"
}

# accounting is on: memory.kmem.slabinfo reads (3.10 fails it with EIO while off)
on() { head -n 1 "$M/$1/memory.kmem.slabinfo" >/dev/null 2>&1; }
state() { if on "$1"; then echo on; else echo off; fi; }

# The kubelet's cgroup manager creating a cgroup (Apply, then Set): mkdir; runc's kmem code arms it
# when the cgroup has a memory limit and the running kubelet links that code; then the limit.
kubelet_creates() { # NAME [MEMORY-LIMIT]
  mkdir "$M/$1" || return 1
  if [ -n "${2:-}" ]; then
    if [ "$KUBELET_KIND" = kmem ]; then arm "$1" || return 1; fi
    echo "$2" >"$M/$1/memory.limit_in_bytes"
  fi
}

# The container runtime (runc >= rc94, no kmem code) creating a container's cgroup, and the
# container's process.
container() { # CGROUP FILES
  mkdir "$M/$1" && load "$1" "$2"
}

# A process in the cgroup that creates FILES small files on a tmpfs (inodes and dentries: slab memory,
# charged to the memcg when its accounting is on) and stays.
load() { # CGROUP FILES
  CONTAINERS=$((${CONTAINERS:-0} + 1))
  _d=/tmp/container.$CONTAINERS
  mkdir -p "$_d"
  # shellcheck disable=SC2016 # $1 $2 $3 are the inner shell's
  sh -c 'echo $$ >"$1/cgroup.procs" && cd "$2" && seq 1 "$3" | xargs touch && exec sleep 100000' sh "$M/$1" "$_d" "$2" &
  _w=0
  # shellcheck disable=SC2012 # counting our own files named 1..N
  while [ "$(ls "$_d" | wc -l)" -lt "$2" ]; do
    _w=$((_w + 1))
    [ "$_w" -lt 600 ] || return 1
    sleep 0.1
  done
}

# A fixture tree made for real (test/el7/fixtures.test.ts): paths come octal-escaped (any byte but NUL
# and /), so names with tabs, newlines, quotes or invalid UTF-8 arrive unchanged.
# shellcheck disable=SC2059 # the format is the escaped path: printf turns \ooo into its byte
unescape() { _p=$(printf "$1"; echo x) && _p=${_p%x}; }
mkcg() { # ESCAPED-PATH ARM(0|1)
  unescape "$1"
  mkdir "$M/$_p" || say error mkdir
  if [ "$2" = 1 ]; then arm "$_p" || say error arm; fi
}
loadcg() { # ESCAPED-PATH FILES
  unescape "$1"
  load "$_p" "$2" || say error load
}

# The kubelet binary on disk: installed the way rpm 4.11 does it (the new file written as PATH;<tid>,
# then renamed over the old one, so a running old kubelet keeps the deleted file).
install_kubelet() { # FILE KIND
  cp "$1" "$KUBELET;5f3c9a1e" && chmod 755 "$KUBELET;5f3c9a1e" && mv -f "$KUBELET;5f3c9a1e" "$KUBELET"
  INSTALLED_KIND=$2
}

# The running kubelet: a process exec'ing the file on disk (its comm is "kubelet", its exe the file).
# The fixture binaries are busybox with runc's strings appended; they run as `sleep`.
start_kubelet() { # [FILE]
  # shellcheck disable=SC3038 # busybox sh's exec -a: argv[0] picks busybox's applet
  (exec -a sleep "${1:-$KUBELET}" 100000) &
  KUBELET_PID=$!
  KUBELET_KIND=$INSTALLED_KIND
  while [ "$(cat "/proc/$KUBELET_PID/comm" 2>/dev/null)" != kubelet ]; do sleep 0.1; done
}
stop_kubelet() {
  kill "$KUBELET_PID" && wait "$KUBELET_PID" 2>/dev/null
  KUBELET_PID=""
}

# A node's pod cgroups in the cgroupfs or systemd layout: kubepods (node allocatable, 512 MiB),
# the QoS parents (no memory limit), one burstable pod (64 MiB) with one container.
kubepods() { # cgroupfs|systemd
  if [ "$1" = cgroupfs ]; then
    kubelet_creates kubepods 536870912 && kubelet_creates kubepods/burstable && kubelet_creates kubepods/besteffort
  else
    kubelet_creates kubepods.slice 536870912 && kubelet_creates kubepods.slice/kubepods-burstable.slice &&
      kubelet_creates kubepods.slice/kubepods-besteffort.slice
  fi
}
pod_dir() { # cgroupfs|systemd UID
  if [ "$1" = cgroupfs ]; then
    echo "kubepods/burstable/pod$2"
  else
    echo "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(echo "$2" | tr - _).slice"
  fi
}
ctr_dir() { # cgroupfs|systemd POD-DIR CONTAINER-ID
  if [ "$1" = cgroupfs ]; then echo "$2/$3"; else echo "$2/docker-$3.scope"; fi
}
pod() { # cgroupfs|systemd UID CONTAINER-ID [FILES]
  _p=$(pod_dir "$1" "$2")
  kubelet_creates "$_p" 67108864 && container "$(ctr_dir "$1" "$_p" "$3")" "${4:-200}"
}

# bash and gawk (EL7's pair) with their libraries, when the test copied them to /root
gnu_setup() {
  [ -f /root/bash ] && [ -f /root/gawk ] || return 0
  mkdir -p /lib/x86_64-linux-gnu /lib64 /opt/gnu/bin
  for _f in /root/*.so*; do cp "$_f" /lib/x86_64-linux-gnu/; done
  cp /root/ld-linux-x86-64.so.2 /lib64/
  cp /root/bash /root/gawk /opt/gnu/bin/
  ln -s gawk /opt/gnu/bin/awk
  /opt/gnu/bin/bash -c 'awk --version' 2>&1 | head -n 1
}

# verify-kmem.sh as shipped: under busybox sh + busybox awk the human report, the JSON report and
# kured's sentinel; under bash + gawk (when present) the JSON report and the sentinel.  Each pair keeps
# its own --cache-dir, so each inspects every kubelet file once per boot (TCG makes a 5 MB scan slow).
verify() { # LABEL [ARGS...]
  _label=$1
  shift
  mkdir -p /var/cache/verify-busybox /var/cache/verify-gnu
  echo "@@VERIFY $_label busybox"
  sh /root/verify-kmem.sh --cache-dir /var/cache/verify-busybox "$@"
  echo "@@HUMAN rc=$?"
  verify_json sh /var/cache/verify-busybox "$@"
  if [ -x /opt/gnu/bin/bash ]; then
    _path=$PATH
    PATH=/opt/gnu/bin:$PATH
    echo "@@VERIFY $_label bash+gawk"
    verify_json /opt/gnu/bin/bash /var/cache/verify-gnu "$@"
    PATH=$_path
  fi
}
verify_json() { # SHELL CACHE-DIR [ARGS...]
  _s=$1 _c=$2
  shift 2
  echo "@@JSON"
  "$_s" /root/verify-kmem.sh --cache-dir "$_c" --json "$@"
  echo "@@JSON rc=$?"
  _o=$("$_s" /root/verify-kmem.sh --cache-dir "$_c" --reboot-required "$@" 2>&1)
  echo "@@REBOOT rc=$? bytes=${#_o}"
}
