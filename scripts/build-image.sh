#!/usr/bin/env bash
# Builds the Petrel image, petrel.io/petrel:<version>, from binaries already built (no registry, no
# base image): FROM scratch with petrel-agent, petrel-operator, petrel-cni and petrel in
# /usr/local/bin (debug info stripped: a RelWithDebInfo build's 119 MB become 22 MB; the symbol
# tables stay, for backtraces), the shared libraries ldd names for them (the dynamic loader too),
# each at the path ldd prints, and a minimal /etc, /tmp and /var/run. <version> is what
# `BIN_DIR/petrel version` prints. The image goes into the local containers-storage (seen by
# podman) and, as an OCI archive, into build/petrel-image.oci.tar (`podman load -i` it elsewhere).
# Rebuilding moves the tag.
#
# Usage: scripts/build-image.sh [--tag TAG] [--archive PATH] [BIN_DIR]
#   BIN_DIR    the binaries (default: build/bin)
#   --tag      image tag (default: the version)
#   --archive  where the OCI archive goes (default: build/petrel-image.oci.tar)
# Needs buildah (scripts/install-deps.sh installs it), ldd and strip. Running the image with podman
# needs no registry and no network configuration: `podman run --network none ...`.
set -euo pipefail

usage() {
  echo "usage: scripts/build-image.sh [--tag TAG] [--archive PATH] [BIN_DIR]" >&2
  exit 2
}

tag=
archive=
bin_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) [ $# -ge 2 ] || usage; tag=$2; shift 2 ;;
    --archive) [ $# -ge 2 ] || usage; archive=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "build-image: unknown option $1" >&2; usage ;;
    *) [ -z "$bin_dir" ] || usage; bin_dir=$1; shift ;;
  esac
done

# Paths given by the caller are relative to the caller's directory; the defaults to the checkout.
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${bin_dir:-$root/build/bin}
archive=${archive:-$root/build/petrel-image.oci.tar}
case "$archive" in /*) ;; *) archive=$PWD/$archive ;; esac
if [ ! -d "$bin_dir" ]; then
  echo "build-image: no binary directory $bin_dir: run scripts/build.sh first (or pass BIN_DIR)" >&2
  exit 1
fi
bin_dir=$(cd "$bin_dir" && pwd)

binaries=(petrel-agent petrel-operator petrel-cni petrel)
for b in "${binaries[@]}"; do
  if [ ! -x "$bin_dir/$b" ]; then
    echo "build-image: $bin_dir/$b is missing: run scripts/build.sh first (or pass BIN_DIR)" >&2
    exit 1
  fi
done
for tool in buildah ldd strip; do
  if ! command -v "$tool" >/dev/null; then
    echo "build-image: $tool not found: run scripts/install-deps.sh (as root)" >&2
    exit 1
  fi
done

# "petrel 0.1.0 (commit bd66826)" -> 0.1.0
version_line=$("$bin_dir/petrel" version)
version=$(echo "$version_line" | awk '$1 == "petrel" { print $2; exit }')
if ! [[ "$version" =~ ^[0-9A-Za-z_][0-9A-Za-z_.-]*$ ]]; then
  echo "build-image: no version in what '$bin_dir/petrel version' printed: $version_line" >&2
  exit 1
fi
tag=${tag:-$version}
image=petrel.io/petrel:$tag
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || true)
echo "== building $image (petrel $version, revision ${revision:-unknown}) from $bin_dir"

work=$(mktemp -d "${TMPDIR:-/tmp}/petrel-image.XXXXXX")
ctr=
cleanup() {
  if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/run"
chmod 1777 "$rootfs/tmp"
echo "== copying ${binaries[*]} (strip --strip-debug)"
for b in "${binaries[@]}"; do
  strip --strip-debug -o "$rootfs/usr/local/bin/$b" "$bin_dir/$b"
done

# Every library ldd resolves for the copies (what the image runs, even if BIN_DIR is relinked
# meanwhile), at the path it resolves to (the file copied, not the symlink), and the loader at the
# path the binaries ask for (PT_INTERP). The vDSO is the kernel's.
echo "== collecting shared libraries (ldd)"
libs=()
for b in "${binaries[@]}"; do
  out=$(ldd "$rootfs/usr/local/bin/$b" 2>&1) || {
    echo "build-image: ldd $bin_dir/$b failed (is it being rebuilt?): $out" >&2
    exit 1
  }
  if grep -q 'not found' <<<"$out"; then
    echo "build-image: $b needs libraries this machine lacks:" >&2
    grep 'not found' <<<"$out" >&2
    echo "build-image: run scripts/install-deps.sh (as root), then scripts/build.sh" >&2
    exit 1
  fi
  while read -r lib; do libs+=("$lib"); done < <(
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out")
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
for lib in "${libs[@]}"; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
echo "== ${#libs[@]} libraries, $(du -sh "$rootfs" | cut -f1) in the root filesystem"

# Names for uid/gid 0 and nobody; nsswitch: hosts from /etc/hosts, then DNS (both in glibc's libc).
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$rootfs/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

tar -C "$rootfs" --owner=0 --group=0 --numeric-owner -cf "$work/rootfs.tar" .

echo "== assembling the image (buildah, FROM scratch)"
old_id=$(buildah images --noheading --quiet "$image" 2>/dev/null || true)
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
config=(
  --env PATH=/usr/local/bin
  --workingdir /
  --cmd '["petrel-agent"]'
  --label org.opencontainers.image.title=petrel
  --label org.opencontainers.image.version="$version"
  --label org.opencontainers.image.description="Petrel, an eBPF network data plane for Kubernetes"
)
if [ -n "$revision" ]; then
  config+=(--label org.opencontainers.image.revision="$revision")
fi
buildah config "${config[@]}" "$ctr"
new_id=$(buildah commit --quiet --rm --format oci "$ctr" "$image")
ctr=
# The tag moved: drop the image it named before unless something still uses it.
if [ -n "$old_id" ] && [ "${new_id#"$old_id"}" = "$new_id" ]; then
  buildah rmi "$old_id" >/dev/null 2>&1 || true
fi
echo "== committed $image (${new_id:0:12})"

echo "== writing $archive (oci-archive)"
mkdir -p "$(dirname "$archive")"
rm -f "$archive"
buildah push --quiet "$image" "oci-archive:$archive:$image"
echo "== done: $image, archive $(du -h "$archive" | cut -f1)"
