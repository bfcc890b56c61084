#!/usr/bin/env bash
# Debian packages the tests start for real: PostgreSQL (stores), Chromium (web widget), Redis (lock
# store) and nginx (load balancer) for the cluster.
# Installs only what is missing, so on a prepared machine it does nothing.
set -euo pipefail
packages=(postgresql chromium redis-server nginx-light)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
