#!/usr/bin/env bash
# Writes the development config var/insite.toml (once) for `make run`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/var/data"
config="$root/var/insite.toml"
if [ ! -f "$config" ]; then
    cat >"$config" <<TOML
# Development configuration written by \`make run\`; see packaging/insite.toml for every key.
listen = "127.0.0.1:8443"
data_dir = "$root/var/data"

[log]
level = "info"
format = "text"
TOML
    echo "wrote $config"
fi
