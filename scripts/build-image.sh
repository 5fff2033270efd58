#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a container image of dind-netcfg for a local dockerd, with no registry. Two kinds:
#
#   dind-netcfg:<version>       FROM scratch, the sidecar and init container: one layer (a
#       `docker import`ed root) holding the (stripped) binary with its file capabilities, the
#       shared libraries the binary itself names (found with ldd over it, not from a hand-kept
#       list), the dynamic loader, and the few /etc files glibc reads. ENTRYPOINT is the binary,
#       CMD is `run`.
#   dind-netcfg:<version>-dind  (--dind BASE_IMAGE) FROM a dind image (docker:dind, Alpine and
#       musl, or a Debian-based one), deploy/dind/Dockerfile: the same binary and libraries as a
#       self-contained bundle in /opt/dind-netcfg (its ELF interpreter and RPATH point into the
#       bundle, so nothing of the base's libc is used and nothing of the base is changed),
#       dind-netcfg on PATH, ENTRYPOINT `dind-netcfg entrypoint --`, CMD empty.
#
#   scripts/build-image.sh [--binary PATH] [-H|--host unix:///path/docker.sock] [--tag NAME:TAG]
#                          [--docker CLI] [--keep-rootfs DIR] [--dind BASE_IMAGE]
#
# The version (in the default tag) is project(... VERSION ...) in CMakeLists.txt; the binary
# must report the same. --keep-rootfs copies the image's root (with --dind: the bundle) to DIR.
# Prints the image's name and size on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

binary=$here/build/bin/dind-netcfg
host=""
tag=""
docker_cli=/usr/bin/docker
keep_rootfs=""
dind_base=""

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while (($#)); do
  case $1 in
  --binary) binary=$2; shift 2 ;;
  -H | --host) host=$2; shift 2 ;;
  --tag) tag=$2; shift 2 ;;
  --docker) docker_cli=$2; shift 2 ;;
  --keep-rootfs) keep_rootfs=$2; shift 2 ;;
  --dind) dind_base=$2; shift 2 ;;
  -h | --help) usage ;;
  *) echo "build-image.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

die() { echo "build-image.sh: $*" >&2; exit 1; }
[[ -x $binary ]] || die "$binary is not an executable; build first (cmake --build build) or pass --binary"
command -v "$docker_cli" >/dev/null || die "docker client $docker_cli not found"

version=$(sed -n 's/^project(dind-netcfg VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
[[ -n $version ]] || die "no project(dind-netcfg VERSION x.y.z) in $here/CMakeLists.txt"
reported=$("$binary" version 2>&1) || die "'$binary version' failed: $reported"
[[ $reported == *"$version"* ]] ||
  die "$binary reports '$reported', not the project version $version: rebuild it"
if [[ -n $dind_base ]]; then
  tag=${tag:-dind-netcfg:$version-dind}
  command -v patchelf >/dev/null || die "patchelf not found (apt-get install patchelf)"
else
  tag=${tag:-dind-netcfg:$version}
fi

docker_args=()
[[ -n $host ]] && docker_args=(-H "$host")
docker() { "$docker_cli" "${docker_args[@]}" "$@"; }

work=$(mktemp -d /tmp/dnc-image.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT

# "NAME PATH" for every shared library the binary loads and for the loader, as ldd (the loader
# itself) resolves them: "name => /path (addr)", and the loader's own
# "/lib64/ld-linux-x86-64.so.2 (addr)", whose NAME is its file name. Both images take exactly
# this list.
shared_objects() { # BINARY
  local libs line
  libs=$(LC_ALL=C ldd "$1") || die "ldd $1 failed: is it a dynamic executable?"
  while read -r line; do
    if [[ $line =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+)\ \( ]]; then
      printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    elif [[ $line =~ ^(/[^[:space:]]+)\ \( ]]; then
      printf '%s %s\n' "${BASH_REMATCH[1]##*/}" "${BASH_REMATCH[1]}" # the dynamic loader
    elif [[ $line == *"not found"* ]]; then
      die "ldd cannot resolve a library of $1: $line"
    fi # linux-vdso.so.1 lives in the kernel
  done <<<"$libs"
}
echo "build-image.sh: libraries from ldd $binary:"
objects=$(shared_objects "$binary") || exit 1
count=$(wc -l <<<"$objects")
interp=$(readelf -l "$binary" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
[[ -n $interp ]] || die "$binary names no program interpreter: is it a dynamic executable?"
grep -q " $interp\$" <<<"$objects" || die "ldd $binary does not list its loader $interp"

# The image's size, and the name on the last line.
report() {
  local size
  size=$(docker image inspect --format '{{.Size}}' "$tag")
  echo "build-image.sh: built $tag, $size bytes ($((size / 1024 / 1024)) MiB)"
}

# --- dind-netcfg:<version>-dind: the bundle on a dind image ---------------------------------
# A dind base may have no glibc at all (docker:dind is Alpine, musl), or another glibc than the
# one the binary was linked against. So the binary brings its own, in one directory the base
# never looks into, and finds it without the environment: its PT_INTERP names the bundle's
# loader and its DT_RPATH the bundle's lib/. DT_RPATH, not DT_RUNPATH: glibc searches the
# executable's RPATH for the libraries' own dependencies too (RUNPATH only for the executable's
# direct ones) and before LD_LIBRARY_PATH, which the base or a CI job may set for its own
# programs. Nothing is set in the environment, so dockerd, iptables and COMMAND, started by the
# entrypoint, inherit nothing of the bundle. Both paths are absolute: PT_INTERP cannot be
# relative, and glibc ignores $ORIGIN in secure-execution mode.
if [[ -n $dind_base ]]; then
  readonly bundle_dir=/opt/dind-netcfg
  context=$work/context
  bundle=$context/bundle
  mkdir -p "$bundle/bin" "$bundle/lib" "$context/links" "$context/etc-docker"
  objcopy --strip-unneeded "$binary" "$bundle/bin/dind-netcfg"
  chmod 755 "$bundle/bin/dind-netcfg"
  while read -r name path; do
    cp -L "$path" "$bundle/lib/$name" # keeps the mode: the loader must stay executable
    echo "    $path"
  done <<<"$objects"
  loader=${interp##*/}
  patchelf --set-interpreter "$bundle_dir/lib/$loader" --force-rpath --set-rpath "$bundle_dir/lib" \
    "$bundle/bin/dind-netcfg" || die "patchelf on the bundle's binary failed"
  # A library with a search path of its own would look outside the bundle for its dependencies
  # (Debian's have none; the check keeps that true).
  for lib in "$bundle/lib"/*; do
    [[ ${lib##*/} == "$loader" ]] && continue
    if grep -qE '\((RPATH|RUNPATH)\)' < <(readelf -d "$lib"); then
      patchelf --force-rpath --set-rpath "$bundle_dir/lib" "$lib" || die "patchelf on $lib failed"
      echo "    (${lib##*/}: its own search path replaced by $bundle_dir/lib)"
    fi
  done
  got=$(readelf -l "$bundle/bin/dind-netcfg" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
  [[ $got == "$bundle_dir/lib/$loader" ]] || die "the bundle's binary asks for the interpreter '$got'"
  got=$(readelf -d "$bundle/bin/dind-netcfg" | sed -n 's/.*(RPATH).*\[\(.*\)\]/\1/p')
  [[ $got == "$bundle_dir/lib" ]] || die "the bundle's binary has RPATH '$got', not $bundle_dir/lib"
  # Every library resolves inside the bundle: its loader, told to look in the bundle (where the
  # RPATH will point in the image), lists where each one is found.
  resolved=$(LC_ALL=C "$bundle/lib/$loader" --inhibit-cache --library-path "$bundle/lib" \
    --list "$bundle/bin/dind-netcfg") || die "the bundle's loader cannot load its binary: $resolved"
  outside=$(grep '=>' <<<"$resolved" | grep -v "=> $bundle/lib/" || true)
  [[ -z $outside ]] || die "libraries resolve outside the bundle:"$'\n'"$outside"
  ln -s "$bundle_dir/bin/dind-netcfg" "$context/links/dind-netcfg" # /usr/local/bin/dind-netcfg

  if ! docker image inspect "$dind_base" >/dev/null 2>&1; then
    echo "build-image.sh: $dind_base is not in this dockerd; docker build will pull it"
  fi
  echo "build-image.sh: $count files from ldd in $bundle_dir; building $tag FROM $dind_base"
  DOCKER_BUILDKIT=0 docker build -q -f "$here/deploy/dind/Dockerfile" \
    --build-arg "DIND_IMAGE=$dind_base" --build-arg "DIND_NETCFG_VERSION=$version" \
    -t "$tag" "$context" >/dev/null || die "docker build of $tag FROM $dind_base failed"
  if [[ -n $keep_rootfs ]]; then
    rm -rf "$keep_rootfs"
    cp -a "$bundle" "$keep_rootfs"
  fi
  report
  exit 0
fi

# --- dind-netcfg:<version>: FROM scratch ----------------------------------------------------
root=$work/context/rootfs
mkdir -p "$root"/{usr/bin,usr/lib,usr/lib64,etc/docker,run,tmp,proc,sys,dev,var}
# The usr-merged layout of Debian 12: /lib and /lib64 lead into /usr.
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"

# The binary, without its debug information.
objcopy --strip-unneeded "$binary" "$root/usr/bin/dind-netcfg"
chmod 755 "$root/usr/bin/dind-netcfg"
# File capabilities, permitted only (+p): how a non-root user (runAsUser) receives what the
# pod's capabilities.add grants, as Kubernetes sets no ambient capabilities. At exec the kernel
# gives the file's set limited to the bounding set (the granted ones); the binary raises and
# keeps only what its command needs. No effective bit (+ep): with it, exec fails with EPERM
# wherever one of them is not granted, even for `version`. Root is unaffected.
command -v setcap >/dev/null || die "setcap not found (apt-get install libcap2-bin)"
setcap cap_net_admin,cap_net_raw,cap_sys_admin+p "$root/usr/bin/dind-netcfg" ||
  die "setcap on the image's binary failed (does $work's file system keep xattrs?)"

# Each library and the loader is copied (the file, not the symlink) to the path the loader will
# look at, under /usr (/lib/... and /usr/lib/... both land in /usr/lib/...).
while read -r _ path; do
  dest=$root/usr${path#/usr}
  mkdir -p "$(dirname "$dest")"
  cp -L "$path" "$dest" # keeps the mode: the loader must stay executable
  echo "    $path"
done <<<"$objects"
[[ -e $root$interp ]] || die "the loader $interp named by $binary was not copied"

# /etc: a non-root user for the commands that need no capabilities (version, detect, probe),
# and what glibc reads to resolve probe targets' DNS names (since glibc 2.34 the files and dns
# NSS modules are inside libc.so.6: no libnss_*.so to add). Docker and Kubernetes mount their
# own /etc/hosts, /etc/resolv.conf and /etc/hostname over these.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/:/usr/sbin/nologin
dind-netcfg:x:65532:65532:dind-netcfg:/:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
dind-netcfg:x:65532:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' \
  >"$root/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
for f in protocols services; do
  [[ -r /etc/$f ]] && cp "/etc/$f" "$root/etc/$f"
done

# The root goes in through `docker import` of a tar that carries the file capabilities
# (security.capability): the classic builder's COPY drops that xattr (dockerd 20.10 here), the
# import keeps it. The Dockerfile then adds only the configuration, no layer.
rootfs_image=${tag%:*}-rootfs:${tag##*:}
tar --xattrs --xattrs-include=security.capability --numeric-owner -C "$root" \
  -cf "$work/rootfs.tar" . || die "tar of the image root failed"
docker import "$work/rootfs.tar" "$rootfs_image" >/dev/null ||
  die "docker import of the image root failed"
mkdir -p "$work/config"
cat >"$work/config/Dockerfile" <<EOF
FROM $rootfs_image
LABEL org.opencontainers.image.title="dind-netcfg" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="network configuration for Docker-in-Docker pods"
# Root by default, for docker run and the legacy (ip_tables) backend, which a non-root user
# cannot use (/proc/net/ip_tables_names is root's). The non-root user dind-netcfg (65532)
# receives NET_ADMIN, NET_RAW and SYS_ADMIN through the binary's file capabilities when the
# container is granted them (deploy/README.md).
USER 0:0
EXPOSE 9254/tcp
ENTRYPOINT ["/usr/bin/dind-netcfg"]
CMD ["run"]
EOF

echo "build-image.sh: $count files from ldd; building $tag"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$work/config" >/dev/null ||
  die "docker build of $tag failed"
# Only the name goes: the imported layer is the image's own.
docker rmi "$rootfs_image" >/dev/null || die "removing the name $rootfs_image failed"
if [[ -n $keep_rootfs ]]; then
  rm -rf "$keep_rootfs"
  cp -a "$root" "$keep_rootfs"
fi
report
