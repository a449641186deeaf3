# shellcheck shell=bash
# Sourced by the scripts in scripts/pg/: defaults shared by all of them, logging, and running commands as the
# PostgreSQL OS user. Every default can be overridden by an environment variable or by the script's flags.
#
#   PG_OS_USER     OS user that owns the clusters and the repositories (postgres)
#   PGBIN          PostgreSQL server binaries (the newest /usr/lib/postgresql/*/bin)
#   PGBR_CONFIG    pgBackRest configuration file (/etc/pgbackrest/pgbackrest.conf)
#   PGBR_STANZA    pgBackRest stanza, i.e. the name of the cluster in the repositories (jichitai)

PG_OS_USER=${PG_OS_USER:-postgres}
PGBR_CONFIG=${PGBR_CONFIG:-/etc/pgbackrest/pgbackrest.conf}
PGBR_STANZA=${PGBR_STANZA:-jichitai}
if [ -z "${PGBIN:-}" ]; then
  PGBIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
fi

log() { printf '[%s] %s\n' "$(date '+%H:%M:%S')" "$*"; }
warn() { printf '警告: %s\n' "$*" >&2; }
die() {
  printf 'エラー: %s\n' "$*" >&2
  exit 1
}

# Run a command as the PostgreSQL OS user (PostgreSQL refuses to run as root): through runuser when we are
# root, directly otherwise (then we must be that user, or own the files involved).
as_pg() {
  if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

# Make a directory owned by the PostgreSQL OS user (parents are created as needed, left as they are).
make_pg_dir() {
  local dir=$1 mode=${2:-750}
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown "$PG_OS_USER:" "$dir"
  fi
  chmod "$mode" "$dir"
}

# Absolute form of a path that may not exist yet.
abspath() { realpath -m -- "$1"; }

# Paths end up unquoted inside PostgreSQL option strings and archive_command: refuse the awkward ones.
check_plain_path() {
  case "$1" in
    *[[:space:]\'\"\\\$\`]*) die "パスに空白・引用符・\$・\\ は使えません: $1" ;;
  esac
}

# The pgBackRest command line with the configuration file and stanza.
pgbr() {
  as_pg pgbackrest --config="$PGBR_CONFIG" --stanza="$PGBR_STANZA" "$@"
}

# psql as the PostgreSQL OS user, without ~/.psqlrc, stopping at the first error; extra arguments follow.
pg_sql() {
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# `pgbackrest verify` exits 0 even when it finds damaged or missing files, or no repository at all (2.45;
# see pgbackrest/pgbackrest#2502), so its report is read: a stanza or backup whose status is error/invalid,
# or a non-zero counter of missing, invalid or other files, is a failure. Prints the report; returns 1 on
# any problem.
pgbr_verify() {
  local repo=$1 out rc=0
  out=$(pgbr --repo="$repo" --log-level-console=info --log-level-stderr=off verify 2>&1) || rc=$?
  printf '%s\n' "$out"
  if [ "$rc" != 0 ]; then
    return 1
  fi
  if grep -Eq 'status: (error|invalid)|(missing|checksum invalid|size invalid|other): [1-9]' <<<"$out"; then
    return 1
  fi
  return 0
}
