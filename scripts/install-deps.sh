#!/usr/bin/env bash
# Installs every Debian 12 package Stoa builds, tests or runs with. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libcaf-dev libzmq3-dev capnproto libcapnp-dev libleveldb-dev libsnappy-dev
  libzookeeper-mt-dev zookeeper libspdlog-dev libfmt-dev libcpp-httplib-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev
  libbenchmark-dev curl procps python3
  busybox-static
  prometheus  # promtool: the service's /metrics test checks its Prometheus text
  libcurl4-openssl-dev  # the executor's HTTP(S) health checks
  openssl               # the executor tests' TLS server
  libldns-dev           # stoa dns: the DNS wire format
  haproxy               # stoa lb runs it
  dnsutils              # dig: the DNS tests' client
  libhowardhinnant-date-dev tzdata  # stoa batch: cron schedules in IANA time zones
  python3-jsonschema    # checks the batch API's JSON against a JSON schema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
