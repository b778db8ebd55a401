#!/bin/bash
# Container healthcheck for Nexus: GET a path (default /healthz) from the
# local listener and succeed on HTTP 200. Only bash is needed (its /dev/tcp
# redirection); the image has no curl or wget.
#   nexus-healthcheck [PATH]
# The port, and the address unless it is a wildcard, come from NEXUS_LISTEN
# (default 127.0.0.1:8080).
set -euo pipefail
path="${1:-/healthz}"
listen="${NEXUS_LISTEN:-127.0.0.1:8080}"
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"; host="${host%]}"
case "$host" in
  "" | 0.0.0.0 | "::") host=127.0.0.1 ;;
esac
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "unhealthy: nothing listens on $host:$port" >&2
  exit 1
fi
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
status=""
IFS=$' \t\r' read -r -t 2 _ status _ <&3 || true
exec 3<&-
if [[ "$status" == 200 ]]; then
  exit 0
fi
echo "unhealthy: GET $path answered ${status:-nothing}" >&2
exit 1
