#!/usr/bin/env bash
# Installs Plexus's build and test dependencies from Debian 12 packages,
# and any further packages named as arguments (bench/run.sh adds wrk).
# Idempotent: packages already present are skipped, so the README commands
# can call this every time at almost no cost.
set -euo pipefail

packages=(
  build-essential cmake pkg-config      # toolchain
  libboost-dev libboost-filesystem-dev  # Boost.DLL (header-only, uses Boost.Filesystem)
  libpoco-dev                           # Poco Net/Util/Data-SQLite/Crypto: server, HTTP client, store
  libsqlite3-dev
  libyaml-cpp-dev                       # integration YAML with line/column marks
  nlohmann-json3-dev                    # JSON values everywhere
  catch2                                # tests (v2)
  libhowardhinnant-date-dev tzdata      # IANA time zones for cron schedules
  libssl-dev                            # libcrypto: blob SHA-256, webhook signatures (HMAC, constant-time compare)
  openssl                               # tests compute webhook signatures with the openssl command
  libcurl4-openssl-dev                  # the HTTP client (core/io/http_loop: curl multi) and plexus::testing
  curl                                  # tests replay the webhook docs' curl commands
  clang libclang-rt-14-dev              # libFuzzer (clang's runtime) for scripts/fuzz.sh
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
