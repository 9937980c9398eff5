#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (127.0.0.1, a free port, a random password, files in a temp
# dir, durability off for speed). Uses Debian's `postgresql` package.
#
#   .ci/postgres.sh install        apt-get install postgresql (as root; once per machine)
#   eval "$(.ci/postgres.sh start)"  start one; prints `export EVOLVE_TEST_POSTGRES_URL=…` and
#                                  `export EVOLVE_TEST_POSTGRES_DIR=…` (exit 3: no server binaries)
#   .ci/postgres.sh stop DIR       stop the server started in DIR and delete DIR
set -euo pipefail

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    return 1
}

as_owner() {  # run a server binary as the unprivileged `postgres` user when we are root
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
install)
    if bindir >/dev/null; then exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    ;;
start)
    bin=$(bindir) || { echo "no PostgreSQL server binaries (initdb); run: .ci/postgres.sh install" >&2; exit 3; }
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        echo "running as root but there is no 'postgres' user to run the server as" >&2; exit 3
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/evolve-pg.XXXXXX")
    chmod 755 "$dir"
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077; printf "%s\n" "$password" >"$dir/pw")
    if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U evolve -A scram-sha-256 --pwfile="$dir/pw" -E UTF8 \
        --no-locale --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pw"
    started=""
    for _ in 1 2 3 4 5; do  # a free port can be taken between choosing and binding it: try again
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o \
            "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            start >/dev/null 2>&1; then started=1; break; fi
    done
    [[ -n "$started" ]] || { cat "$dir/server.log" >&2; exit 1; }
    PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U evolve evolve
    echo "export EVOLVE_TEST_POSTGRES_URL=postgresql+psycopg://evolve:$password@127.0.0.1:$port/evolve"
    echo "export EVOLVE_TEST_POSTGRES_DIR=$dir"
    ;;
stop)
    dir=${2:?usage: .ci/postgres.sh stop DIR}
    [[ -f "$dir/data/PG_VERSION" ]] || { echo "$dir holds no server started by this script" >&2; exit 1; }
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
