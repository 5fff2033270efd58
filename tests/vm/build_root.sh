#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes (or reuses) the VM's kernel, initramfs and root image, in a cache outside the clone:
#   ${DIND_VM_CACHE:-/var/cache/dind-netcfg/vm}/<key>/{vmlinuz,initrd.img,base.img,KEY}
# The key hashes everything that went into it: this script, the suite and mirror, the package
# list, and the kernel package's version. A
# cold machine builds it (debootstrap + a kernel .deb unpacked, never installed on the host);
# the image is never written after it is built: each boot writes to a qcow2 overlay.
#
#   tests/vm/build_root.sh [BINARY]     (BINARY's libraries are checked) prints "VM_ROOT=<dir>" as its last line
set -euo pipefail

binary=${1:-${DIND_NETCFG_BIN:-build/bin/dind-netcfg}}
cache=${DIND_VM_CACHE:-/var/cache/dind-netcfg/vm}
suite=bookworm
mirror=http://deb.debian.org/debian
image_size=3G
# The guest's tools: dockerd and its peers, both netfilter front ends, the namespace and
# process tools the scenarios use (util-linux's unshare/nsenter is Essential).
packages=(docker.io iproute2 nftables iptables kmod busybox-static netcat-openbsd procps jq
  ethtool
  # dind-netcfg's shared libraries (checked against ldd below)
  libnl-3-200 libnl-route-3-200 libnftnl11 libmnl0 libip4tc2 libip6tc2 libcap2 zlib1g)
# Kernel modules the initramfs loads to mount an ext4 root on virtio-blk (Debian builds them as
# modules); their dependencies come from modules.dep. ext4 asks the crypto API for crc32c when it
# mounts, which modules.dep does not show: crc32c_generic is named.
initrd_modules=(virtio_pci virtio_blk crc32c_generic ext4)

die() {
  echo "build_root.sh: $*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap needs it)"
for tool in debootstrap mkfs.ext4 apt-get dpkg-deb busybox sha256sum depmod flock; do
  command -v "$tool" >/dev/null || die "'$tool' is missing; run scripts/install-deps.sh"
done

# Every package that ships one of BINARY's shared libraries must be in the list, or it cannot run
# in the guest: checked here, not derived, so the key (and the cached root) does not change with
# each build of the binary.
if [[ -x $binary ]]; then
  mapfile -t libs < <(LC_ALL=C ldd "$binary" | awk '$3 ~ /^\// {print $3}')
  for lib in "${libs[@]}"; do
    owner=$(dpkg-query -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) ||
      owner=$(dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || true
    [[ -n $owner ]] || die "no Debian package ships $lib (a library of $binary); the guest could not run it"
    # Not `printf … | grep -q`: grep's early exit can end printf with SIGPIPE, which pipefail
    # turns into a miss (vm_backends_no_legacy once failed so on libcap2, which is listed).
    [[ " ${packages[*]} libc6 libgcc-s1 libstdc++6 " == *" $owner "* ]] ||
      die "$binary needs $lib from package $owner, which is not in tests/vm/build_root.sh's packages; add it there"
  done
fi
# The kernel: the package linux-image-amd64 points at, at the version apt offers now.
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [[ -z $kernel_pkg ]]; then
  apt-get update -qq || die "apt-get update failed; the kernel package cannot be found without it"
  kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[[ -n $kernel_pkg ]] || die "apt knows no linux-image-amd64 (apt-cache depends linux-image-amd64); check the machine's apt lists"
kernel_ver=$(apt-cache policy "$kernel_pkg" | awk '/Candidate:/ {print $2}')

key=$( {
  cat "$0"
  printf '%s\n' "$suite" "$mirror" "$image_size" "$kernel_pkg" "$kernel_ver" "${packages[@]}" "${initrd_modules[@]}"
} | sha256sum | cut -c1-16)
dir=$cache/$key
if [[ -f $dir/KEY ]]; then
  echo "vm root: reused $dir ($kernel_pkg $kernel_ver, built $(stat -c %y "$dir/KEY" | cut -d. -f1))"
  echo "VM_ROOT=$dir"
  exit 0
fi

# Built in a temporary directory beside it and renamed at the end, so an interrupted build never
# leaves a half-made root that looks complete; a lock keeps two builds of one key apart.
mkdir -p "$cache"
exec 9>"$cache/.lock-$key"
flock 9
if [[ -f $dir/KEY ]]; then
  echo "vm root: reused $dir (built meanwhile by another run)"
  echo "VM_ROOT=$dir"
  exit 0
fi
start=$SECONDS
work=$(mktemp -d "$cache/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "vm root: building $dir: debootstrap $suite (${#packages[@]} packages), $kernel_pkg $kernel_ver"

# The kernel: downloaded and unpacked, never installed on the host.
mkdir -p "$work/deb" "$work/kernel"
(cd "$work/deb" && apt-get download -q "$kernel_pkg=$kernel_ver") >"$work/kernel.log" 2>&1 ||
  die "apt-get download $kernel_pkg failed: $(tail -n 5 "$work/kernel.log")"
dpkg-deb -x "$work"/deb/*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
# The .deb ships no modules.dep (its postinst makes it): the initramfs and the guest's modprobe
# need it.
depmod -b "$work/kernel" "$kver" || die "depmod of the unpacked kernel $kver failed"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

# The root.
root=$work/root
if ! debootstrap --variant=minbase --include="$(
  IFS=,
  echo "${packages[*]}"
)" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  die "debootstrap $suite from $mirror failed: $(tail -n 15 "$work/debootstrap.log")"
fi
mkdir -p "$root/lib/modules"
cp -a "$work/kernel/lib/modules/$kver" "$root/lib/modules/"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
# Nothing starts services in the guest (no systemd boot): the scenario's init is PID 1.
echo dind-vm >"$root/etc/hostname"
mkdir -p "$root/vm"
mkfs.ext4 -q -F -L dind-root -d "$root" "$work/base.img" "$image_size" >/dev/null ||
  die "mkfs.ext4 -d of the root failed"

# The initramfs: static busybox, the modules to mount the root, an /init that loads them,
# mounts /dev/vda (and the payload disk /dev/vdb at /vm) and hands over to the scenario's init.
ird=$work/initrd
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/newroot" "$ird/lib/modules"
cp "$(command -v busybox)" "$ird/bin/busybox"
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_is_static "$ird/bin/busybox" || die "$(command -v busybox) is not static; install busybox-static"
moddir=$work/kernel/lib/modules/$kver
declare -A seen=()
order=()
add_module() { # NAME: its dependencies first (modules.dep), then itself
  local rel deps dep
  rel=$(awk -F: -v m="$1" '{n=$1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)} n==m {print $1; exit}' "$moddir/modules.dep")
  if [[ -z $rel ]]; then
    grep -qE "/$1\.ko" "$moddir/modules.builtin" && return 0
    die "kernel module $1 is neither in modules.dep nor built in ($kver)"
  fi
  [[ -z ${seen[$rel]:-} ]] || return 0
  seen[$rel]=1
  deps=$(awk -F: -v r="$rel" '$1==r {print $2; exit}' "$moddir/modules.dep")
  for dep in $deps; do
    dep=${dep##*/}
    dep=${dep%%.ko*}
    add_module "${dep//-/_}"
  done
  order+=("$rel")
}
for m in "${initrd_modules[@]}"; do add_module "$m"; done
for rel in "${order[@]}"; do
  case $rel in
  *.ko.xz) xz -dc "$moddir/$rel" >"$ird/lib/modules/$(basename "${rel%.xz}")" ;;
  *.ko.zst) zstd -qdc "$moddir/$rel" >"$ird/lib/modules/$(basename "${rel%.zst}")" ;;
  *) cp "$moddir/$rel" "$ird/lib/modules/" ;;
  esac
  basename "${rel%.ko*}.ko" >>"$ird/lib/modules/order"
done
cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(/bin/busybox cat /lib/modules/order); do
  /bin/busybox insmod "/lib/modules/$m" || echo "initramfs: insmod $m failed"
done
# The block devices appear asynchronously after virtio_blk loads.
i=0
while [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && { echo "initramfs: /dev/vda or /dev/vdb never appeared"; /bin/busybox ls /dev; /bin/busybox poweroff -f; }
  /bin/busybox sleep 0.1
done
/bin/busybox mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; /bin/busybox poweroff -f; }
/bin/busybox mount -t ext4 -o rw /dev/vdb /newroot/vm || { echo "initramfs: cannot mount the payload /dev/vdb"; /bin/busybox poweroff -f; }
echo "initramfs: root and payload mounted after $(/bin/busybox cut -d' ' -f1 /proc/uptime)s; switch_root to /vm/init.sh"
/bin/busybox umount /proc /sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /vm/init.sh
INIT
chmod 755 "$ird/init"
(cd "$ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.img")

printf '%s\n' "$kernel_pkg $kernel_ver" "kernel $kver" "${packages[@]}" >"$work/KEY"
mkdir -p "$dir"
mv "$work/vmlinuz" "$work/initrd.img" "$work/base.img" "$dir/"
mv "$work/KEY" "$dir/KEY"
echo "vm root: built $dir in $((SECONDS - start))s (image $(du -h --apparent-size "$dir/base.img" | cut -f1), $(du -h "$dir/base.img" | cut -f1) used; kernel $kver)"
echo "VM_ROOT=$dir"
