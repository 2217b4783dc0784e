#!/usr/bin/env bash
# Builds the spiffe-helper container image (and the minispire image where the Dockerfile can be used).
#   IMAGE_TAG=0.2.0 bash scripts/build-image.sh
#
# How, in this order (IMAGE_BUILD=dockerfile|assemble forces one):
#   1. docker answers: `docker build` of the Dockerfile (everything is built inside; nothing on the host first).
#   2. podman with the Dockerfile's base images already in its store: `podman build` of the same Dockerfile.
#   3. otherwise (no registry to pull mcr.microsoft.com from, as on CI machines): the image is assembled from
#      the Native AOT binary (scripts/publish.sh, or HELPER_BINARY=path to reuse one) and exactly the shared
#      libraries it loads, taken from this machine's Debian packages: a root filesystem with no shell and no
#      package manager, imported into podman (`podman import`) with user 1654 and the binary as entrypoint,
#      and saved as artifacts/image/spiffe-helper-TAG.docker.tar (`kind load image-archive` takes it).
# The commit goes into `spiffe-helper -version` through SOURCE_REVISION_ID (git rev-parse HEAD where .git is).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tag="${IMAGE_TAG:-dev}"
revision="${SOURCE_REVISION_ID:-$(git -C "$root" rev-parse HEAD 2>/dev/null || true)}"
out="$root/artifacts/image"
mode="${IMAGE_BUILD:-}"

engine_answers() { command -v "$1" >/dev/null 2>&1 && timeout 20 "$1" info >/dev/null 2>&1; }
dotnet_version=$(sed -n 's/^ARG DOTNET_VERSION=//p' Dockerfile)
base_images=("mcr.microsoft.com/dotnet/sdk:$dotnet_version" "mcr.microsoft.com/dotnet/runtime-deps:$dotnet_version-noble-chiseled" "mcr.microsoft.com/dotnet/aspnet:$dotnet_version-noble-chiseled")
podman_has_bases() {
  engine_answers podman || return 1
  local image
  for image in "${base_images[@]}"; do podman image exists "$image" || return 1; done
}

if [ -z "$mode" ]; then
  if engine_answers docker; then mode=docker; elif podman_has_bases; then mode=podman; else mode=assemble; fi
elif [ "$mode" = dockerfile ]; then
  if engine_answers docker; then mode=docker; else mode=podman; fi
fi

case "$mode" in
  docker|podman)
    "$mode" build --build-arg "SOURCE_REVISION_ID=$revision" --target spiffe-helper -t "spiffe-helper:$tag" .
    "$mode" build --build-arg "SOURCE_REVISION_ID=$revision" --target minispire -t "minispire:$tag" .
    "$mode" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "(^|/)(spiffe-helper|minispire):$tag "
    exit 0
    ;;
  assemble) ;;
  *) echo "IMAGE_BUILD must be dockerfile or assemble, not \"$mode\"" >&2; exit 2 ;;
esac

echo "no docker, and podman lacks the Dockerfile's base images (${base_images[*]}): assembling the helper image from the AOT binary" >&2
binary="${HELPER_BINARY:-}"
if [ -z "$binary" ]; then
  SourceRevisionId="$revision" bash scripts/publish.sh spiffe-helper "$root/artifacts/publish/spiffe-helper"
  binary="$root/artifacts/publish/spiffe-helper/spiffe-helper"
fi
[ -x "$binary" ] || { echo "no executable helper binary at $binary" >&2; exit 1; }

rootfs="$out/rootfs-$tag"
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/usr/share/doc/spiffe-helper"
install -m 0755 "$binary" "$rootfs/usr/local/bin/spiffe-helper"
install -m 0644 LICENSE "$rootfs/usr/share/doc/spiffe-helper/LICENSE"

# The libraries: what the binary links (ldd), plus what .NET's cryptography loads with dlopen at run time:
# OpenSSL 3 (libssl.so.3, which links libcrypto.so.3). Not needed: ICU (InvariantGlobalization), GSSAPI
# (no Negotiate authentication), zlib and brotli (.NET links its compression code statically).
libssl=$(ldconfig -p | awk '$1 == "libssl.so.3" && /x86-64|x86_64|aarch64|AArch64/ { print $NF; exit }')
[ -n "$libssl" ] || { echo "libssl.so.3 not found: install Debian's libssl3" >&2; exit 1; }
mapfile -t libraries < <({ ldd "$binary"; ldd "$libssl"; echo "libssl.so.3 => $libssl"; } \
  | awk '/=>/ { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }' | sort -u)
packages=()
for library in "${libraries[@]}"; do
  # The soname path as the loader looks it up, and the file it points to.
  for file in "$library" "$(readlink -f "$library")"; do
    mkdir -p "$rootfs$(dirname "$file")"
    cp -P "$file" "$rootfs$file"
  done
  package=$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  [ -n "$package" ] || package=$(dpkg -S "$library" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  [ -n "$package" ] || { echo "$library belongs to no Debian package" >&2; exit 1; }
  packages+=("$package")
done
# /lib64 and /lib are symlinks on merged-/usr Debian: the loader's path must resolve in the image too.
for link in /lib /lib64; do
  if [ -L "$link" ] && [ -d "$rootfs$link" ] && [ ! -L "$rootfs$link" ]; then
    target=$(readlink "$link")
    mkdir -p "$rootfs/$target"
    cp -a "$rootfs$link/." "$rootfs/$target/"
    rm -rf "${rootfs:?}$link"
    ln -s "$target" "$rootfs$link"
  fi
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
{
  echo "# Debian packages the image's libraries come from (dpkg -S), with their versions."
  for package in "${packages[@]}"; do
    echo "$package $(dpkg-query -W -f '${Version}' "$package")"
    mkdir -p "$rootfs/usr/share/doc/$package"
    [ ! -f "/usr/share/doc/$package/copyright" ] || install -m 0644 "/usr/share/doc/$package/copyright" "$rootfs/usr/share/doc/$package/copyright"
  done
} > "$rootfs/usr/share/doc/spiffe-helper/packages.txt"
# A loader cache, so dlopen("libssl.so.3") finds the library without the host's ld.so.conf.
multiarch=$(dirname "$(readlink -f "$libssl")")
echo "$multiarch" > "$rootfs/etc/ld.so.conf"
ldconfig -r "$rootfs"
# Numeric uid 1654 ("app", as in the chiseled .NET images) so runAsNonRoot can verify it; no login shell exists.
printf 'root:x:0:0:root:/root:/nonexistent\napp:x:1654:1654:app:/nonexistent:/nonexistent\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1654:\n' > "$rootfs/etc/group"

epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
tarball="$out/spiffe-helper-$tag.rootfs.tar"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$rootfs" -cf "$tarball" .
echo "root filesystem: $tarball ($(du -k "$tarball" | cut -f1) KiB); Debian packages: $(grep -v '^#' "$rootfs/usr/share/doc/spiffe-helper/packages.txt" | paste -sd, -)"

if ! command -v podman >/dev/null 2>&1; then
  echo "podman is not installed: the root filesystem is built; import it with podman import or docker import and the settings above" >&2
  exit 0
fi
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
podman import \
  --change 'USER 1654' \
  --change 'ENTRYPOINT ["/usr/local/bin/spiffe-helper"]' \
  --change 'CMD ["-config", "/etc/spiffe-helper/helper.conf"]' \
  --change "LABEL org.opencontainers.image.version=$version" \
  --change "LABEL org.opencontainers.image.revision=${revision:-unknown}" \
  --change 'LABEL org.opencontainers.image.licenses=Apache-2.0' \
  --change 'LABEL org.opencontainers.image.title=spiffe-helper' \
  "$tarball" "localhost/spiffe-helper:$tag" >/dev/null
# Saved under the name "spiffe-helper:TAG" in the manifests means to a container runtime (docker.io/library/...),
# so `kind load image-archive` makes it the image the pods ask for.
podman tag "localhost/spiffe-helper:$tag" "docker.io/library/spiffe-helper:$tag"
podman save --quiet --format docker-archive -o "$out/spiffe-helper-$tag.docker.tar" "docker.io/library/spiffe-helper:$tag"
podman untag "localhost/spiffe-helper:$tag" "docker.io/library/spiffe-helper:$tag"
size=$(podman image inspect --format '{{.Size}}' "localhost/spiffe-helper:$tag")
echo "image localhost/spiffe-helper:$tag: $size bytes ($((size / 1024 / 1024)) MiB), saved as $out/spiffe-helper-$tag.docker.tar"
