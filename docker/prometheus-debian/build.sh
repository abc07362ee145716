#!/usr/bin/env bash
# Packages Debian's prometheus binary into a local image (no registry needed).
# Usage: docker/prometheus-debian/build.sh [TAG]   (default lgtm-check/prometheus:debian)
# Needs: `apt-get install prometheus` done, and a Docker engine.
set -euo pipefail
tag=${1:-lgtm-check/prometheus:debian}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(command -v prometheus || echo /usr/bin/prometheus)
[ -x "$bin" ] || { echo "prometheus binary not found; install Debian's package: apt-get install prometheus" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc/prometheus" "$ctx/rootfs/prometheus" "$ctx/rootfs/tmp"
cp "$bin" "$ctx/rootfs/bin/prometheus"
# The binary's shared libraries (glibc and the loader), at the paths it expects.
ldd "$bin" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
  [ -f "$lib" ] || continue
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
cat > "$ctx/rootfs/etc/prometheus/prometheus.yml" <<'YAML'
global:
  scrape_interval: 15s
YAML
printf 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
printf 'nogroup:x:65534:\n' > "$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"
chmod 0777 "$ctx/rootfs/prometheus"
cp "$here/Dockerfile" "$ctx/Dockerfile"
version=$("$bin" --version 2>&1 | head -1 | awk '{print $3}')
DOCKER_BUILDKIT=0 docker build -q --label "org.lgtm-check.prometheus-version=$version" -t "$tag" "$ctx" >/dev/null
echo "$tag"
