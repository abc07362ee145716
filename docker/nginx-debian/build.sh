#!/usr/bin/env bash
# Packages Debian's nginx binary into a local image (no registry needed).
# Usage: docker/nginx-debian/build.sh [TAG]   (default lgtm-check/nginx:debian)
# Needs: `apt-get install nginx-light` (or `nginx`) done, and a Docker engine.
set -euo pipefail
tag=${1:-lgtm-check/nginx:debian}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$bin" ] || { echo "nginx binary not found; install Debian's package: apt-get install nginx-light" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/sbin" "$ctx/rootfs/etc/nginx" "$ctx/rootfs/tmp" \
  "$ctx/rootfs/var/lib/nginx" "$ctx/rootfs/var/log/nginx" "$ctx/rootfs/run"
cp "$bin" "$ctx/rootfs/usr/sbin/nginx"
# The binary's shared libraries (glibc, its name-service code and the loader, PCRE,
# OpenSSL, zlib), at the paths it expects.
ldd "$bin" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
  [ -f "$lib" ] || continue
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
# A configuration that runs as nobody without root's paths; a deployment mounts its
# own over it.
cat > "$ctx/rootfs/etc/nginx/nginx.conf" <<'CONF'
pid /tmp/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 8080;
    location / { return 200 "nginx from Debian's package\n"; }
  }
}
CONF
printf 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
printf 'nogroup:x:65534:\n' > "$ctx/rootfs/etc/group"
# nginx creates its compiled-in temporary and log paths at start, as whatever user.
chmod 1777 "$ctx/rootfs/tmp" "$ctx/rootfs/var/lib/nginx" "$ctx/rootfs/var/log/nginx" "$ctx/rootfs/run"
cp "$here/Dockerfile" "$ctx/Dockerfile"
version=$("$bin" -v 2>&1 | head -1 | sed 's|.*nginx/||')
DOCKER_BUILDKIT=0 docker build -q --label "org.lgtm-check.nginx-version=$version" -t "$tag" "$ctx" >/dev/null
echo "$tag"
