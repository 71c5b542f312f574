#!/usr/bin/env bash
# Builds the sandbox's Kubernetes control plane, tools/k8s, into build/bin/petrel-k8s: one multi-call
# binary with the real kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# CoreDNS and helm (see tools/k8s/main.go), with build/bin/kubectl and build/bin/helm linked to it. Petrel itself is C++; Go is only the sandbox's substrate.
#
# The first build on a machine downloads the modules (Go module proxy) and compiles ~3,100
# packages (~1,900 CPU-seconds, about 15-20 min on 2 idle cores); later builds reuse Go's module and
# build caches and only relink (about a minute).
# Environment: GO (the go command, default: /usr/local/go/bin/go if present, else go on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/bin/petrel-k8s

GO=${GO:-}
if [ -z "$GO" ]; then
  if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; else GO=go; fi
fi
gover=$("$GO" env GOVERSION 2>/dev/null || true)
case "$gover" in
  go1.2[6-9]* | go1.[3-9]* | go[2-9]*) ;;
  *)
    echo "build-k8s: tools/k8s needs Go >= 1.26 (found: ${gover:-no go}); set GO=/path/to/go" >&2
    exit 1
    ;;
esac

cd tools/k8s
# The Kubernetes version the components report (kubectl version, /version, helm's kubeVersion checks)
# is set by the linker, as Kubernetes' own build does; without it they say v0.0.0-master.
kver=$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
kmajor=${kver#v}
kmajor=${kmajor%%.*}
kminor=${kver#v*.}
kminor=${kminor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kver -X $pkg.gitMajor=$kmajor -X $pkg.gitMinor=$kminor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# helm's version is set the same way by helm's Makefile; without it helm says v4.<minor>.
hver=$("$GO" list -m -f '{{.Version}}' helm.sh/helm/v4)
ldflags+=" -X helm.sh/helm/v4/internal/version.version=$hver -X helm.sh/helm/v4/internal/version.gitTreeState=clean"

# kubectl and helm are applets of petrel-k8s: links named after them run them (tests and the
# README use build/bin/kubectl and build/bin/helm, so a fresh machine needs no other copy).
link_applets() {
  for applet in kubectl helm; do ln -sfn petrel-k8s "$root/build/bin/$applet"; done
}

# Go caches compiled packages but not the link (~1 min for this binary): skip it when nothing changed.
if [ -x "$out" ] && [ -z "$(find . "$root/scripts/build-k8s.sh" -newer "$out" -type f | head -1)" ]; then
  link_applets
  echo "build-k8s: build/bin/petrel-k8s is up to date ($kver)"
  exit 0
fi
echo "build-k8s: building the Kubernetes control plane ($kver, $gover) into build/bin/petrel-k8s"
echo "build-k8s: the first build on a machine compiles ~3,100 packages (~1,900 CPU-seconds: about 15-20 min on 2 idle cores, longer on a busy machine); later builds reuse Go's cache"

# Fetch modules first so that a download problem shows as such, not as a compile error.
"$GO" mod download

# Progress: go build -v names each package as it compiles it (cached ones are not named).
total=$("$GO" list -deps . | wc -l)
start=$SECONDS
mkdir -p "$(dirname "$out")"
set +e  # a failed go build must reach the message below, not end the script here (pipefail)
"$GO" build -v -trimpath -ldflags="$ldflags" -o "$out.tmp" . 2>&1 |
  {
    n=0
    last=$SECONDS
    while IFS= read -r line; do
      case "$line" in
        *" "* | *":"*) echo "$line" ;; # not a package path: a compiler message
        *) n=$((n + 1)) ;;
      esac
      if [ $((SECONDS - last)) -ge 15 ]; then
        echo "build-k8s: compiled $n of at most $total packages ($((SECONDS - start)) s)"
        last=$SECONDS
      fi
    done
    [ "$n" -gt 0 ] && echo "build-k8s: compiled $n packages"
    true
  }
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  rm -f "$out.tmp"
  echo "build-k8s: go build failed" >&2
  exit "$status"
fi
mv -f "$out.tmp" "$out"
link_applets
echo "build-k8s: build/bin/petrel-k8s ready ($(du -h "$out" | cut -f1), $((SECONDS - start)) s)"
