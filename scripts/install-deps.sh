#!/usr/bin/env bash
# Installs the Debian packages the build (and, with "test", the tests) need;
# only what is missing, so a prepared machine spends no time here.
# "package" (and "test") also get the packaging tools: Debian's rpm and debootstrap,
# and cargo-deb and cargo-generate-rpm from crates.io at pinned versions; "test" also
# cargo-nextest.
#   scripts/install-deps.sh build|package|test
set -euo pipefail

profile=${1:-build}
packages=(build-essential pkg-config libpq-dev cmake clang libclang-dev)
if [ "$profile" = test ] || [ "$profile" = package ]; then
    packages+=(rpm debootstrap curl)
    for tool in cargo-deb@3.8.0 cargo-generate-rpm@0.21.1; do
        name=${tool%@*} want=${tool#*@}
        if ! cargo "${name#cargo-}" --version 2>/dev/null | grep -qF "$want"; then
            echo "installing $tool (crates.io)"
            cargo install --locked --quiet "$tool"
        fi
    done
fi
if [ "$profile" = test ]; then
    # The test runner (parallel tests, per-test times); the same pinned version as CI.
    if ! cargo nextest --version 2>/dev/null | grep -qF "cargo-nextest 0.9.143"; then
        echo "installing cargo-nextest@0.9.143 (crates.io)"
        cargo install --locked --quiet cargo-nextest@0.9.143
    fi
    packages+=(postgresql espeak-ng sox libsox-fmt-all time bc python3-venv)
    # The console's browser tests: Debian's Chromium and its WebDriver.
    packages+=(chromium chromium-driver fonts-dejavu-core)
    # The SFTP connector's tests run OpenSSH's own sshd on loopback.
    packages+=(openssh-server)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# npm may come with a nodejs from elsewhere; Debian's npm only when there is none.
if [ "$profile" = test ] && ! command -v npm >/dev/null; then
    missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "build dependencies: all present"
    exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# No installed service is started (no system sshd, no default PostgreSQL cluster
# listening): the tests start their own servers on loopback.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=1
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi
echo "installed: ${missing[*]}"
