#!/usr/bin/env bash
# Starts a throwaway ClickHouse server on 127.0.0.1 for the tests, with a folder, ports and
# users of its own, and prints the export line for its addresses. Stop it with
# `.ci/clickhouse.sh stop DIR`. Needs Debian's clickhouse-server (apt-get install
# clickhouse-server), which runs here as whoever starts it.
# Users: `default` (no password, for loading test data) and `reader` with the password in
# CANOPY_TEST_CLICKHOUSE_PASSWORD, the one Canopy connects as.
# With CANOPY_CH_TLS=DIR (holding server.crt and server.key) the server also listens for
# HTTPS on a port of its own (CANOPY_TEST_CLICKHOUSE_HTTPS_PORT).
set -euo pipefail

if [ "${1:-}" = stop ]; then
  if [ -f "$2/pid" ]; then
    kill "$(cat "$2/pid")" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$(cat "$2/pid")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$2"
  exit 0
fi

if ! command -v clickhouse-server >/dev/null 2>&1; then
  echo "clickhouse-server not found (apt-get install clickhouse-server)" >&2
  exit 1
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http=$(free_port)
tcp=$(free_port)
dir=$(mktemp -d /tmp/canopy-ch.XXXXXX)
password=reader-$(python3 -c 'import secrets; print(secrets.token_hex(8))')

https=""
if [ -n "${CANOPY_CH_TLS:-}" ]; then
  https=$(free_port)
  cp "$CANOPY_CH_TLS/server.crt" "$CANOPY_CH_TLS/server.key" "$dir/"
  tls="<https_port>$https</https_port>
    <openSSL><server><certificateFile>$dir/server.crt</certificateFile><privateKeyFile>$dir/server.key</privateKeyFile><verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>"
else
  tls=""
fi

cat > "$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/error.log</errorlog><console>0</console></logger>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    $tls
    <listen_host>127.0.0.1</listen_host>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>536870912</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
EOF

cat > "$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
        <reader><password>$password</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></reader>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF

clickhouse-server --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 &
echo $! > "$dir/pid"
for _ in $(seq 150); do
  if curl -fs "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
    echo "export CANOPY_TEST_CLICKHOUSE_HTTP=http://127.0.0.1:$http CANOPY_TEST_CLICKHOUSE_TCP_PORT=$tcp CANOPY_TEST_CLICKHOUSE_PASSWORD=$password CANOPY_TEST_CLICKHOUSE_HTTPS_PORT=$https CANOPY_CH_DIR=$dir"
    exit 0
  fi
  sleep 0.2
done
echo "ClickHouse did not start; its log:" >&2
cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null || true
exit 1
