#!/usr/bin/env bash
# A throwaway Postgres cluster for the storage tests' second backend: `scripts/pg.sh start DIR`
# prints a postgres:// URL (Unix socket in DIR, no TCP), `scripts/pg.sh stop DIR` removes it.
# Uses Debian's postgresql package; as root the cluster runs as the `postgres` user.
set -euo pipefail
cmd="${1:?start|stop}"; dir="${2:?directory}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n "$bin" ]] || { echo "no Postgres installed (apt-get install postgresql)" >&2; exit 1; }
as=()
if [[ $(id -u) -eq 0 ]]; then as=(runuser -u postgres --); fi
case "$cmd" in
  start)
    mkdir -p "$dir" && chmod 700 "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U anneal --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-k $dir -c listen_addresses='' -c fsync=off" start >/dev/null
    "${as[@]}" "$bin/createdb" -h "$dir" -U anneal anneal_test
    echo "postgres://anneal@localhost/anneal_test?host=$dir"
    ;;
  stop)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
