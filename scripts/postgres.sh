#!/usr/bin/env bash
# Start, stop or locate a throwaway PostgreSQL cluster for the test suite.
#
#   scripts/postgres.sh start   initialise (first time) and start the cluster
#   scripts/postgres.sh stop    stop it and keep the data for the next start
#   scripts/postgres.sh url     start it if needed and print its SQLAlchemy URL
#
# The cluster lives in .tmp/postgres (override with PROPLEDGER_POSTGRES_DIR), listens
# on 127.0.0.1 on a free port and on a unix socket in that directory, and trusts every
# local connection: never put data you care about in it. Every command is idempotent.
# Messages go to stderr, so `url` prints nothing but the URL on stdout.
#
# Typical use:
#   PROPLEDGER_TEST_POSTGRESQL_URL=$(scripts/postgres.sh url) .venv/bin/pytest tests/store
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base_dir=${PROPLEDGER_POSTGRES_DIR:-$repo_root/.tmp/postgres}
data_dir=$base_dir/data
port_file=$base_dir/port
log_file=$base_dir/server.log
db_user=postgres
db_name=propledger_test

say() { echo "postgres.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

find_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return
        fi
    fi
    # Debian and Ubuntu keep the server binaries out of PATH, one directory per version.
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
        | sort -V | tail -n 1)
    if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
        echo "$dir"
        return
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    fail "PostgreSQL server binaries (initdb, pg_ctl) were not found." \
        "Install them with 'apt-get install postgresql' (or your system's package), then retry."
}

bindir=$(find_bindir)

# initdb and postgres refuse to run as root, so root runs them as the postgres user.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

prepare_dir() {
    mkdir -p "$base_dir"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 \
            || fail "Running as root needs a 'postgres' OS user; install the postgresql package."
        chown postgres: "$base_dir"
        chmod 0755 "$base_dir"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# SO_REUSEADDR, as PostgreSQL sets it, so that the port of a cluster stopped a moment
# ago (its sockets still in TIME_WAIT) counts as free and the URL stays the same.
port_is_free() {
    python3 - "$1" 2>/dev/null <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
}

is_running() {
    [[ -d $data_dir ]] && as_owner "$bindir/pg_ctl" -D "$data_dir" status >/dev/null 2>&1
}

current_port() {
    [[ -f $port_file ]] || fail "No port file at $port_file; run 'scripts/postgres.sh start'."
    cat "$port_file"
}

init_cluster() {
    say "Initialising a test cluster in $data_dir"
    as_owner "$bindir/initdb" -D "$data_dir" -U "$db_user" --auth=trust \
        --encoding=UTF8 --locale=C >/dev/null
}

start() {
    prepare_dir
    if is_running; then
        return
    fi
    [[ -f $data_dir/PG_VERSION ]] || init_cluster

    local port
    if [[ -f $port_file ]] && port_is_free "$(cat "$port_file")"; then
        port=$(cat "$port_file")
    else
        port=$(free_port)
        echo "$port" >"$port_file"
    fi
    say "Starting PostgreSQL on 127.0.0.1:$port (log: $log_file)"
    # fsync is off because the data is thrown away; it makes the tests much faster.
    as_owner "$bindir/pg_ctl" -D "$data_dir" -l "$log_file" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $base_dir -c fsync=off" >/dev/null \
        || fail "PostgreSQL did not start; see $log_file."
    create_database "$port"
}

create_database() {
    local port=$1 exists
    exists=$(as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres -tAq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'")
    if [[ $exists != 1 ]]; then
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$db_user" "$db_name"
        say "Created database $db_name"
    fi
}

stop() {
    if is_running; then
        as_owner "$bindir/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null
        say "Stopped PostgreSQL in $data_dir"
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    url)
        start
        echo "postgresql+psycopg://$db_user@127.0.0.1:$(current_port)/$db_name"
        ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
