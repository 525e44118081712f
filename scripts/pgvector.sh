#!/usr/bin/env bash
# Installs the pgvector extension into the local PostgreSQL 15 (Debian
# bookworm has no package for it): builds Debian trixie's pgvector source
# against the server's headers. Idempotent: exits at once when the server
# already offers the extension (PGVECTOR_FORCE=1: build anyway). Needs
# root (apt-get, make install).
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGVER="${PGVER:-15}"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/$PGVER/bin/pg_config}"

available() {
  [ -n "$(psql -h "$PGHOST" -p "$PGPORT" -U postgres -tAc \
    "select 1 from pg_available_extensions where name='vector'" 2>/dev/null)" ]
}

# Wait for the server (CI starts it just before).
for _ in $(seq 1 30); do
  pg_isready -h "$PGHOST" -p "$PGPORT" -q 2>/dev/null && break
  sleep 1
done

# PGVECTOR_FORCE=1 builds and installs again even when it is there.
if [ -z "${PGVECTOR_FORCE:-}" ] && available; then
  echo "pgvector: already available"
  exit 0
fi

work="$(mktemp -d /tmp/pgvector.XXXXXX)"
trap 'rm -rf "$work"' EXIT
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb-src http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Get::List-Cleanup=0"
  -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only pgvector)
tarball="$(ls "$work"/pgvector_*.orig.tar.* | head -n1)"
install_deps() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$PGVER" make gcc >/dev/null
}
install_deps || { apt-get update -qq && install_deps; }
mkdir -p "$work/src"
tar -xf "$tarball" -C "$work/src" --strip-components=1
make -C "$work/src" -s PG_CONFIG="$PG_CONFIG"
make -C "$work/src" -s install PG_CONFIG="$PG_CONFIG"

if ! available; then
  echo "pgvector: installed, but the server does not list it" >&2
  exit 1
fi
echo "pgvector: installed"
