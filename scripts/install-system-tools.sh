#!/usr/bin/env bash
# Install the Debian packages lamina's tests run for real, in one apt-get call:
#   chromium     the dashboard's browser tests (Playwright drives /usr/bin/chromium)
#   prometheus   /usr/bin/prometheus and /usr/bin/promtool
#   age          /usr/bin/age and /usr/bin/age-keygen (the keys sops encrypts to)
#   wrk          /usr/bin/wrk, the load generator of bench/server_bench.py
# Never `playwright install`: it downloads its own browser, which this project does not use.
# Safe to run again: when every program is there it touches neither apt nor the network.
# Exits non-zero, naming what is missing and how to install it, when it cannot install.
set -euo pipefail

# program -> the Debian package that ships it
PROGRAMS=(
  /usr/bin/chromium:chromium
  /usr/bin/prometheus:prometheus
  /usr/bin/promtool:prometheus
  /usr/bin/age:age
  /usr/bin/age-keygen:age
  /usr/bin/wrk:wrk
)

missing=()
packages=()
for entry in "${PROGRAMS[@]}"; do
  program=${entry%%:*} package=${entry#*:}
  [ -x "$program" ] && continue
  missing+=("$program")
  case " ${packages[*]} " in *" $package "*) ;; *) packages+=("$package") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-tools: chromium, prometheus, age and wrk are installed"
  exit 0
fi

how="apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-tools: error: ${missing[*]} missing and installing needs root: run 'sudo sh -c \"$how\"'" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "install-system-tools: error: ${missing[*]} missing and there is no apt-get here: install ${packages[*]} with this system's package manager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-tools: installing ${packages[*]} (for ${missing[*]})"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "install-system-tools: error: apt-get could not install ${packages[*]}: run '$how' and read its output" >&2
  exit 1
fi
for program in "${missing[@]}"; do
  [ -x "$program" ] || { echo "install-system-tools: error: $program still missing after installing ${packages[*]}" >&2; exit 1; }
done
echo "install-system-tools: installed ${packages[*]}"
