#!/bin/sh
# Installs the system tools kmem-build's build, packaging, verification and tests use
# on a Debian/Ubuntu machine, and makes podman usable where no Docker engine runs.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -eu

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# qemu-system-x86, busybox-static, file, cpio: the EL7 tier (test/el7/) boots ../shared/el7-kernel in a VM
PKGS="podman runc rpm createrepo-c dnf dnf-plugins-core rpmlint gnupg shellcheck dash busybox-static qemu-system-x86 file gawk mawk strace openssh-server openssh-client debootstrap patch git ca-certificates containerd cpio etcd-server prometheus prometheus-node-exporter prometheus-alertmanager chromium time"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup-system: installing:$missing"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086 # $missing is a list of package names: split on purpose
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# podman on hybrid cgroup hosts: crun fails, runc works; containers need explicit ulimits.
# Only a missing setting is added; an operator's existing configuration is left alone.
conf=/etc/containers/containers.conf
if ! grep -qs '^[[:space:]]*runtime[[:space:]]*=' "$conf"; then
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n\n[engine]\nruntime = "runc"\n' | $SUDO tee -a "$conf" >/dev/null
  echo "setup-system: configured podman ($conf): runtime runc, explicit ulimits"
fi
echo "setup-system: ok"
