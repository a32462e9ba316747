#!/usr/bin/env bash
# The Python tools the tests run as stand-ins for external services, from PyPI at
# pinned versions, in a venv outside the clone (reused between runs when it matches):
# moto[server], an S3-compatible object store (with boto3 to fill its buckets).
#   scripts/test-venv.sh DIR
set -euo pipefail
venv=${1:?usage: test-venv.sh DIR}
want="moto[server]==5.1.22"
stamp="$venv/.insite-requirements"
if [ -x "$venv/bin/moto_server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "test venv ready: $venv"
    exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check -q "$want"
echo "$want" >"$stamp"
echo "test venv made: $venv ($want)"
