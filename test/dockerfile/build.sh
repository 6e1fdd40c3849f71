#!/usr/bin/env bash
# Builds the repository's Dockerfile with buildah, without a registry, and
# writes the image as an OCI archive. Root; needs buildah and runc.
#
#   test/dockerfile/build.sh OUT.tar IMAGE VERSION
#
# The Dockerfile's base images cannot be pulled here, so stand-ins are made
# under the exact names its FROM lines use (buildah --pull=never then finds
# them in its store):
#   golang:*         this machine's Go toolchain (GOROOT) at /usr/local/go,
#                    a static busybox for /bin/sh, the CA bundle, root's
#                    passwd entry, and the official image's environment
#                    (GOPATH=/go, GOTOOLCHAIN=local)
#   distroless/static  what `make image` takes in its place: the CA bundle and
#                    deploy/image's passwd and group, /etc and /tmp
# Modules are downloaded inside the build through this machine's Go proxy
# settings (`go env`), passed as build arguments. The Dockerfile's cache
# mounts (/go/pkg/mod, /root/.cache/go-build) are this machine's module and
# build caches: buildah keeps a cache mount under $TMPDIR/buildah-cache/TARGET,
# and a link there to the host's directory saves the download and most of the
# compilation, with nothing in the Dockerfile for it.
# Everything buildah stores lives in a temporary directory, removed at exit.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 OUT.tar IMAGE VERSION" >&2; exit 2; }
out=$(realpath -m "$1") image=$2 version=$3
cd "$(dirname "$0")/../.."
GO=${GO:-go}
for cmd in buildah runc "$GO"; do
	command -v "$cmd" >/dev/null || { echo "build.sh: $cmd not found" >&2; exit 1; }
done
busybox=/bin/busybox
ca=/etc/ssl/certs/ca-certificates.crt
for f in "$busybox" "$ca"; do
	[ -f "$f" ] || { echo "build.sh: $f not found" >&2; exit 1; }
done

tmp=$(mktemp -d /var/tmp/capprof-buildah-XXXXXX)
bah=(buildah --root "$tmp/root" --runroot "$tmp/run" --storage-driver vfs)
cleanup() {
	"${bah[@]}" rm --all >/dev/null 2>&1 || true
	"${bah[@]}" rmi --all --force >/dev/null 2>&1 || true
	# vfs leaves read-only directories (the Go module cache's) behind.
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
export TMPDIR=$tmp

# stand_in NAME FILL [CONFIG...]: an image NAME from scratch whose root file
# system FILL fills (called with the mount point), configured by the
# `buildah config` flags CONFIG.
stand_in() {
	local name=$1 fill=$2 ctr root
	shift 2
	ctr=$("${bah[@]}" from scratch)
	root=$("${bah[@]}" mount "$ctr")
	"$fill" "$root"
	"${bah[@]}" umount "$ctr" >/dev/null
	"${bah[@]}" config "$@" "$ctr"
	"${bah[@]}" commit --quiet --identity-label=false "$ctr" "$name" >/dev/null
	"${bah[@]}" rm "$ctr" >/dev/null
	echo "build.sh: stand-in $name"
}

fill_golang() {
	local root=$1 goroot
	goroot=$("$GO" env GOROOT)
	mkdir -p "$root/usr/local" "$root/bin" "$root/etc/ssl/certs" "$root/go/bin" "$root/tmp" "$root/root"
	chmod 1777 "$root/tmp"
	cp -a "$goroot" "$root/usr/local/go"
	cp "$busybox" "$root/bin/busybox"
	for applet in $("$busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
	cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
	# root's home is /root, as in the official image: buildah takes HOME
	# from here, and the go command its build cache ($HOME/.cache/go-build,
	# the Dockerfile's cache mount) from HOME.
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
}

# The files `make image` puts beside the binary, with its modes.
fill_distroless() {
	local root=$1
	install -d -m 0755 "$root/etc" "$root/tmp" "$root/etc/ssl" "$root/etc/ssl/certs"
	install -m 0644 deploy/image/passwd "$root/etc/passwd"
	install -m 0644 deploy/image/group "$root/etc/group"
	install -m 0644 "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
}

# The exact names the Dockerfile's FROM lines use.
mapfile -t bases < <(awk 'toupper($1) == "FROM" { print $2 }' Dockerfile)
for base in "${bases[@]}"; do
	case $base in
	docker.io/library/golang:*)
		stand_in "$base" fill_golang \
			--env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			--env GOPATH=/go --env GOTOOLCHAIN=local --workingdir /go ;;
	gcr.io/distroless/static*)
		stand_in "$base" fill_distroless \
			--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			--env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt ;;
	*)
		echo "build.sh: no stand-in for the Dockerfile's base image $base" >&2
		exit 1 ;;
	esac
done

# The host's caches behind the Dockerfile's cache mounts.
mkdir -p "$tmp/buildah-cache/go/pkg" "$tmp/buildah-cache/root/.cache"
ln -s "$("$GO" env GOMODCACHE)" "$tmp/buildah-cache/go/pkg/mod"
ln -s "$("$GO" env GOCACHE)" "$tmp/buildah-cache/root/.cache/go-build"

args=(--build-arg "VERSION=$version")
for v in GOPROXY GOSUMDB GONOSUMDB GONOPROXY GOPRIVATE GOINSECURE; do
	args+=(--build-arg "$v=$("$GO" env "$v")")
done
echo "build.sh: buildah bud (${args[*]})"
"${bah[@]}" bud --pull=never --network host --identity-label=false --layers=false \
	"${args[@]}" -f Dockerfile -t "$image" .
mkdir -p "$(dirname "$out")"
rm -f "$out"
"${bah[@]}" push --quiet "$image" "oci-archive:$out:$image"
echo "build.sh: $image in $out"
