#!/usr/bin/env bash
# Builds the container image from the Dockerfile with buildah (no Docker engine needed) and
# checks it: berth runs as uid 10001, validates, plans and applies examples/ on the embedded
# cluster, and the daemon answers /healthz and /readyz.
#
#   scripts/image-check.sh [--local-bases] [--ca-file FILE] [--tag TAG]
#
# --local-bases  for hosts that cannot reach Docker Hub: builds stand-ins for the two base
#                images, debian:bookworm-slim from Debian packages (debootstrap) and a Rust
#                build image from that plus the Rust toolchain installed here (rustup's
#                default), and builds against those. Say so when quoting the result: the
#                Rust version is the local one, not the Dockerfile's.
# --ca-file F    a CA bundle that cargo inside the build must trust (a TLS-intercepting proxy
#                in front of crates.io); bind-mounted into the build, not kept in the image.
#
# Needs root, buildah and (with --local-bases) debootstrap: apt-get install buildah debootstrap.
# Containers run with chroot isolation, so it works where the runtime cannot set up cgroups.
set -euo pipefail

local_bases=false
ca_file=""
tag="localhost/berth:check"
while [ $# -gt 0 ]; do
    case "$1" in
        --local-bases) local_bases=true ;;
        --ca-file) ca_file="$2"; shift ;;
        --tag) tag="$2"; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
work="$(mktemp -d)"
containers=()
cleanup() {
    for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
run() { buildah run --isolation chroot "$@"; }

build_args=()
if $local_bases; then
    echo "== base images from Debian packages and the local Rust toolchain"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
    c=$(buildah from scratch); containers+=("$c")
    tar -C "$work/rootfs" -cf - . | tar -C "$(buildah mount "$c")" -xf -
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
    buildah commit -q "$c" localhost/debian-local:bookworm-slim >/dev/null
    c=$(buildah from --pull=never localhost/debian-local:bookworm-slim); containers+=("$c")
    run "$c" -- sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev make ca-certificates >/dev/null'
    toolchain="$(rustc --print sysroot)"
    root="$(buildah mount "$c")"
    mkdir -p "$root/usr/local/rust" "$root/usr/local/cargo"
    cp -a "$toolchain/." "$root/usr/local/rust/"
    if [ -n "$ca_file" ]; then
        printf '[http]\ncainfo = "/run/build-ca.crt"\n' >"$root/usr/local/cargo/config.toml"
    fi
    buildah config --env CARGO_HOME=/usr/local/cargo \
        --env PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
    buildah commit -q "$c" localhost/rust-local:bookworm >/dev/null
    echo "   Rust in the build image: $(run "$c" -- rustc --version)"
    build_args+=(--pull=never
        --build-arg RUST_IMAGE=localhost/rust-local:bookworm
        --build-arg RUNTIME_IMAGE=localhost/debian-local:bookworm-slim)
fi
if [ -n "$ca_file" ]; then
    build_args+=(-v "$(realpath "$ca_file"):/run/build-ca.crt:ro")
fi

echo "== building $tag"
# Only what Git tracks goes into the build context, as from a clean checkout.
git archive HEAD | tar -C "$work" -xf - --one-top-level=ctx
buildah bud --isolation chroot "${build_args[@]}" -t "$tag" "$work/ctx" >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; exit 1; }
grep -E 'Finished `release`' "$work/build.log" || true
buildah images --format '   {{.Name}}:{{.Tag}}  {{.Size}}' "$tag"

echo "== checking the image"
c=$(buildah from --pull=never "$tag"); containers+=("$c")
buildah copy -q "$c" examples /examples >/dev/null
as_berth() { run --user 10001:10001 "$c" -- "$@"; }
[ "$(as_berth id -u)" = 10001 ] || { echo "berth does not run as uid 10001" >&2; exit 1; }
as_berth berth --version
missing="$(as_berth sh -c 'ldd /usr/local/bin/berth | grep "not found" || true')"
[ -z "$missing" ] || { echo "missing shared libraries: $missing" >&2; exit 1; }
as_berth sh -c 'command -v ssh-keygen >/dev/null && command -v gpg >/dev/null'
echo "   runs as uid 10001; shared libraries, ssh-keygen and gpg present"
as_berth berth validate /examples
as_berth berth plan /examples 2>/dev/null | tail -1
as_berth berth apply /examples --auto-approve 2>/dev/null | tail -1
as_berth berth plan /examples --detailed-exitcode 2>/dev/null | tail -1

port=$((20000 + RANDOM % 20000))
as_berth berth daemon /examples --listen "127.0.0.1:$port" --interval 1h >"$work/daemon.log" 2>&1 &
daemon=$!
ok=false
for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ok=true; break; fi
    sleep 0.5
done
curl -fsS -o /dev/null -w '   /healthz %{http_code}\n' "http://127.0.0.1:$port/healthz" || true
curl -fsS -o /dev/null -w '   /readyz %{http_code}\n' "http://127.0.0.1:$port/readyz" || true
kill "$daemon" 2>/dev/null || true
pkill -f "berth daemon /examples --listen 127.0.0.1:$port" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
if ! $ok; then cat "$work/daemon.log"; echo "the daemon in the image did not become ready" >&2; exit 1; fi
echo "image $tag: ok"
