#!/usr/bin/env bash
# Installs what the integration tests need and that pip cannot bring: Java/Maven are on the
# machine; Prometheus (and promtool) come from Debian's package `prometheus`; the headless
# browser that renders `driftline explain`'s report in tests/e2e from Debian's `chromium`.
set -euo pipefail
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a system service; the tests run their own on a free port.
    (systemctl stop prometheus 2>/dev/null || service prometheus stop 2>/dev/null || true) >/dev/null
  else
    echo "prometheus/promtool missing: run 'sudo apt-get install prometheus'" >&2
    exit 1
  fi
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "chromium missing: run 'sudo apt-get install chromium'" >&2
    exit 1
  fi
fi
command -v java >/dev/null || { echo "java (17+) is required for the Kafka broker" >&2; exit 1; }
command -v mvn >/dev/null || { echo "maven is required to fetch the Kafka broker" >&2; exit 1; }
