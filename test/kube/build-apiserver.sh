#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy for the integration tests of
# internal/kube (a real API server; there is no Debian package). The binary is
# cached, so a second run is a no-op:
#   ${CAPPROF_KUBE_CACHE:-~/.cache/capprof-kube}/kube-apiserver-$VERSION
# The build happens in a throwaway module outside capprof's go.mod:
# k8s.io/kubernetes is not meant to be a dependency, its go.mod replaces the
# 31 k8s.io/* staging modules with ./staging/..., which only works inside its
# own repository. We read those replaces from the module's go.mod and point
# each at the published staging module of the same minor (v1.35.4 -> v0.35.4).
# About 5-15 minutes on 2 cores, ~2 GB peak memory, ~3 GB of build cache.
set -euo pipefail

VERSION="${KUBE_APISERVER_VERSION:-v1.35.4}"
GO="${GO:-go}"
CACHE="${CAPPROF_KUBE_CACHE:-$HOME/.cache/capprof-kube}"
OUT="$CACHE/kube-apiserver-$VERSION"

if [ -x "$OUT" ]; then
  echo "kube-apiserver $VERSION: cached at $OUT"
  exit 0
fi

minor="${VERSION#v1.}"           # 35.4
staging="v0.$minor"               # v0.35.4
major_minor="${VERSION%.*}"       # v1.35
gitminor="${major_minor#v1.}"     # 35

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "kube-apiserver $VERSION: resolving k8s.io/kubernetes"
gomod="$(GOFLAGS=-mod=mod "$GO" mod download -json "k8s.io/kubernetes@$VERSION" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$gomod" ] || [ ! -f "$gomod" ]; then
  echo "build-apiserver: go.mod of k8s.io/kubernetes@$VERSION not found" >&2
  exit 1
fi

{
  echo "module capprof.local/kube-apiserver-build"
  echo
  echo "go 1.25"
  echo
  echo "require k8s.io/kubernetes $VERSION"
  echo
  # Every `k8s.io/X => ./staging/src/k8s.io/X` replace of kubernetes' go.mod,
  # pointed at the published module instead.
  grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$gomod" |
    awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
} > go.mod
n="$(grep -c '^replace ' go.mod)"
if [ "$n" -lt 20 ]; then
  echo "build-apiserver: only $n staging replaces found in $gomod" >&2
  exit 1
fi
echo "kube-apiserver $VERSION: $n staging modules at $staging"

cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO

GOFLAGS=-mod=mod "$GO" mod tidy -e >/dev/null 2>&1 || true
GOFLAGS=-mod=mod "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@$VERSION"

echo "kube-apiserver $VERSION: building (several minutes)"
mkdir -p "$CACHE"
GOFLAGS=-mod=mod CGO_ENABLED=0 "$GO" build -trimpath -o "$work/kube-apiserver" -ldflags "-s -w \
  -X k8s.io/component-base/version.gitVersion=$VERSION \
  -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=$gitminor" k8s.io/kubernetes/cmd/kube-apiserver
"$work/kube-apiserver" --version
# Rename into place last: an interrupted build leaves no half-written binary.
mv "$work/kube-apiserver" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "kube-apiserver $VERSION: built $OUT"
