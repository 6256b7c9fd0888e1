#!/usr/bin/env bash
# test/standby.sh: lemlist_fdw on a hot standby, sourced by test/run.sh
#
# standby_check: with run.sh's cluster (the primary) and mock running, make a
# streaming standby of the primary with pg_basebackup, start it (lemlist_fdw
# preloaded as on the primary), and read a lemlist table on it from two
# sessions: the first sends one request, the second reads the first one's
# answer from the store of shared answers (cache_ttl), and nothing on the
# standby needs to write.  Prints what it saw; returns non-zero when that is
# not what it should be.  The standby is stopped and removed in any case.

standby_check()
{
    local dir="$WORKDIR/standby" port=$((PGPORT_TEST + 2)) out expected rc=0
    local psql=("$(pg_bin psql)" -X -q -At -v ON_ERROR_STOP=1 -h "$WORKDIR" -U postgres)

    # on the primary: a database with a cached lemlist table
    as_pg "${psql[@]}" -p "$PGPORT_TEST" -d postgres -c "CREATE DATABASE lemlist_standby" \
        >/dev/null || return 1
    as_pg "${psql[@]}" -p "$PGPORT_TEST" -d lemlist_standby >/dev/null <<EOF || return 1
CREATE EXTENSION lemlist_fdw;
CREATE SERVER lemlist FOREIGN DATA WRAPPER lemlist_fdw
  OPTIONS (api_url '$LEMLIST_MOCK_URL/api', cache_ttl '300');
CREATE USER MAPPING FOR CURRENT_USER SERVER lemlist OPTIONS (api_key 'test-key-alpha');
CREATE FOREIGN TABLE stats (campaign_id text, start_date timestamptz, end_date timestamptz,
                            nb_leads bigint)
  SERVER lemlist OPTIONS (resource 'campaign_stats');
EOF

    # the standby: a base backup that streams from the primary
    as_pg "$(pg_bin pg_basebackup)" -h "$WORKDIR" -p "$PGPORT_TEST" -U postgres \
        -D "$dir" -R -X stream -c fast >"$WORKDIR/basebackup.log" 2>&1 || {
        cat "$WORKDIR/basebackup.log"
        rc=1
    }
    if [ "$rc" -eq 0 ]; then
        printf "port = %s\nhot_standby = on\n" "$port" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
        as_pg "$(pg_bin pg_ctl)" -D "$dir" -l "$WORKDIR/standby.log" -w -t 60 start \
            >/dev/null 2>&1 || {
            tail -n 20 "$WORKDIR/standby.log"
            rc=1
        }
    fi
    if [ "$rc" -eq 0 ]; then
        "$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" --url "$LEMLIST_MOCK_URL" reset >/dev/null
        local q="SELECT campaign_id || ' ' || nb_leads FROM stats WHERE campaign_id = 'cam_00001'
                  AND start_date >= '2025-01-01' AND end_date <= '2025-06-30'"
        out=$(
            as_pg "${psql[@]}" -p "$port" -d lemlist_standby -c "SELECT 'in recovery ' || pg_is_in_recovery()" -c "$q"
            as_pg "${psql[@]}" -p "$port" -d lemlist_standby -c "$q" \
                -c "SELECT 'cache ' || scope || ' ' || memory_from || ' hits ' || hits FROM lemlist_fdw_cache()"
            printf 'requests %s\n' "$("$LEMLIST_PYTHON" "$LEMLIST_MOCKCTL" --url "$LEMLIST_MOCK_URL" requests --count)"
        ) || rc=1
        printf '%s\n' "$out" | sed 's/^/    /'
        expected=$'in recovery true\ncam_00001 61\ncam_00001 61\ncache cluster shared_preload_libraries hits 1\nrequests 1'
        if [ "$out" != "$expected" ]; then
            printf '    expected:\n%s\n' "$(printf '%s\n' "$expected" | sed 's/^/    /')"
            rc=1
        fi
    fi

    as_pg "$(pg_bin pg_ctl)" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    as_pg "${psql[@]}" -p "$PGPORT_TEST" -d postgres -c "DROP DATABASE lemlist_standby" \
        >/dev/null || rc=1
    return "$rc"
}
