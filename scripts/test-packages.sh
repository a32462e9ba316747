#!/usr/bin/env bash
# Package test (part of `make test`): builds the .deb and .rpm, installs the .deb into
# a clean Debian root (debootstrap from Debian's mirror, cached per machine), and
# checks files, owners, modes, the service user, the first start, an upgrade to a
# higher package version (data kept, migrations run), remove and purge; then checks
# that the .rpm carries the same files, modes and scriptlets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /var/tmp/insite-pkg-test.XXXXXX)
base=${INSITE_TEST_DEBROOT_CACHE:-/var/tmp/insite-debroot-bookworm.tar}
chroot_dir="$work/root"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    for m in proc dev; do umount -l "$chroot_dir/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package test FAILED: $*" >&2; exit 1; }
expect() { # expect DESCRIPTION ACTUAL WANTED
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    echo "ok: $1"
}
in_root() { chroot "$chroot_dir" "$@"; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
echo "== packages $version-1 (with the whisper-tiny.en model package) and $version-2"
PACKAGE_OUT="$work/r1" PACKAGE_REVISION=1 PACKAGE_MODELS=whisper-tiny.en scripts/package.sh >"$work/package1.log"
PACKAGE_OUT="$work/r2" PACKAGE_REVISION=2 PACKAGE_MODELS=none scripts/package.sh >"$work/package2.log"
deb1="$work/r1/insite_${version}-1_amd64.deb"
deb2="$work/r2/insite_${version}-2_amd64.deb"
model_deb="$work/r1/insite-model-whisper-tiny-en_${version}-1_all.deb"
rpm1="$work/r1/insite-${version}-1.x86_64.rpm"
for f in "$deb1" "$deb2" "$model_deb" "$rpm1" "$work/r1/insite-model-whisper-tiny-en-${version}-1.noarch.rpm"; do
    [ -f "$f" ] || fail "not built: $f"
done

echo "== the systemd unit"
score=$(systemd-analyze security --offline=true systemd/insite.service 2>/dev/null | sed -n 's/.*Overall exposure level for insite.service: \([0-9.]*\).*/\1/p')
python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" || fail "exposure $score > 2.0"
echo "ok: systemd-analyze security rates the unit $score (2.0 or lower)"

echo "== MemoryDenyWriteExecute=yes holds for both engines (W^X enforced by the kernel)"
cat >"$work/mdwe.toml" <<TOML
data_dir = "$work/mdwe-data"
[engines]
models_dir = "$root/models"
whisper_model = "whisper-tiny.en"
llm_model = "qwen2.5-coder-0.5b-instruct"
TOML
heard=$(scripts/mdwe-exec.py target/release/insite --config "$work/mdwe.toml" transcribe tests/fixtures/generated/jfk.wav 2>"$work/mdwe.log") ||
    { cat "$work/mdwe.log"; fail "Whisper under MemoryDenyWriteExecute"; }
grep -qi "fellow americans" <<<"$heard" || fail "Whisper under MemoryDenyWriteExecute heard: $heard"
echo "Customer: I was charged twice for my order. Agent: I will refund the second charge today." >"$work/ticket.txt"
said=$(scripts/mdwe-exec.py target/release/insite --config "$work/mdwe.toml" analyze "$work/ticket.txt" 2>>"$work/mdwe.log") ||
    { cat "$work/mdwe.log"; fail "the LLM under MemoryDenyWriteExecute"; }
python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["summary"], d' <<<"$said" || fail "LLM output: $said"
echo "ok: Whisper and the LLM run with write-xor-execute memory"

echo "== a clean Debian root"
if [ ! -f "$base" ]; then
    tmp=$(mktemp -d /var/tmp/insite-debootstrap.XXXXXX)
    debootstrap --variant=minbase --include=systemd,libpq5,libgomp1,curl,ca-certificates \
        bookworm "$tmp" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    tar -C "$tmp" -cf "$base.partial" . && mv "$base.partial" "$base"
    rm -rf "$tmp"
fi
mkdir -p "$chroot_dir"
tar -C "$chroot_dir" -xf "$base"
chmod 0755 "$chroot_dir" # its / (mktemp made the original 0700)
mount -t proc proc "$chroot_dir/proc"
mount --bind /dev "$chroot_dir/dev"
cp "$deb1" "$deb2" "$model_deb" "$chroot_dir/tmp/"

echo "== install"
in_root dpkg -i "/tmp/$(basename "$deb1")" "/tmp/$(basename "$model_deb")" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "dpkg -i"; }
grep -q "sudo insite admin bootstrap" "$work/install.log" || fail "the next step is not printed: $(cat "$work/install.log")"
echo "ok: the install prints the next step"
expect "service user" "$(in_root getent passwd insite | cut -d: -f1,6,7)" "insite:/var/lib/insite:/usr/sbin/nologin"
expect "service group" "$(in_root getent group insite | cut -d: -f1)" "insite"
mode() { in_root stat -c '%a %U:%G' "$1"; }
expect "/usr/bin/insite" "$(mode /usr/bin/insite)" "755 root:root"
expect "/etc/insite/insite.toml" "$(mode /etc/insite/insite.toml)" "640 root:insite"
expect "/var/lib/insite" "$(mode /var/lib/insite)" "750 insite:insite"
expect "unit" "$(mode /usr/lib/systemd/system/insite.service)" "644 root:root"
expect "sysusers.d" "$(mode /usr/lib/sysusers.d/insite.conf)" "644 root:root"
expect "docs" "$(mode /usr/share/doc/insite/README.md)" "644 root:root"
expect "model file" "$(mode /usr/share/insite/models/ggml-tiny.en.bin)" "644 root:root"
expect "conffile" "$(in_root dpkg-query -W -f '${Conffiles}' insite | awk '{print $1}' | tr -d '\n')" "/etc/insite/insite.toml"
[ -L "$chroot_dir/etc/systemd/system/multi-user.target.wants/insite.service" ] || fail "the service is not enabled"
echo "ok: the service is enabled"
expect "insite --version" "$(in_root insite --version)" "insite $version"
expect "package version" "$(in_root dpkg-query -W -f '${Version}' insite)" "$version-1"
in_root insite --config /etc/insite/insite.toml check-config >/dev/null || fail "check-config on the shipped config"
echo "ok: check-config passes with the shipped config"
in_root insite models verify /usr/share/insite/models/ggml-tiny.en.bin >/dev/null || fail "installed model does not verify"
echo "ok: the packaged model verifies"
systemd-analyze verify --root="$chroot_dir" /usr/lib/systemd/system/insite.service >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "systemd-analyze verify"; }
echo "ok: systemd-analyze verify"

# The service as systemd would run it (no systemd in a chroot): as root, insite
# switches to the owner of /var/lib/insite itself.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() {
    INSITE_LISTEN="127.0.0.1:$port" chroot "$chroot_dir" insite --config /etc/insite/insite.toml serve >>"$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 1 300); do
        curl -ksf "https://127.0.0.1:$port/healthz" >/dev/null && grep -q "migrations complete" "$work/serve.log" && return 0
        kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; fail "the server stopped"; }
        sleep 0.2
    done
    cat "$work/serve.log"; fail "the server did not start"
}
stop() { kill "$server"; wait "$server" || true; server=""; }

echo "== first start"
# An admin's edit, to see that upgrades keep it.
sed -i 's/^whisper_model = .*/whisper_model = "whisper-tiny.en"/' "$chroot_dir/etc/insite/insite.toml"
start
expect "master key" "$(mode /var/lib/insite/keys/master.key)" "600 insite:insite"
expect "TLS key" "$(mode /var/lib/insite/tls/key.pem)" "600 insite:insite"
[ -z "$(find "$chroot_dir/var/lib/insite" -user root)" ] || fail "root-owned files in /var/lib/insite: $(find "$chroot_dir/var/lib/insite" -user root)"
echo "ok: nothing in /var/lib/insite belongs to root"
echo 'correct horse battery staple 42' | in_root insite --config /etc/insite/insite.toml admin bootstrap --org Acme --email owner@acme.test --password-stdin >/dev/null
token=$(in_root insite --config /etc/insite/insite.toml admin token create --org Acme --role admin)
users() { curl -ksf -H "Authorization: Bearer $token" "https://127.0.0.1:$port/api/v1/users"; }
users | grep -q owner@acme.test || fail "the owner is not listed"
echo "ok: bootstrap with sudo, the owner is listed through the API"
stop
key_sum=$(sha256sum "$chroot_dir/var/lib/insite/keys/master.key" | cut -d' ' -f1)
# The schema of the release before: its newest migration not applied yet.
reverted=$(in_root insite --config /etc/insite/insite.toml migrate revert | sed -n 's/^reverted: //p')
[ -n "$reverted" ] || fail "could not revert the newest migration"

echo "== upgrade to $version-2"
in_root dpkg -i "/tmp/$(basename "$deb2")" >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "upgrade"; }
expect "package version after upgrade" "$(in_root dpkg-query -W -f '${Version}' insite)" "$version-2"
grep -q '^whisper_model = "whisper-tiny.en"' "$chroot_dir/etc/insite/insite.toml" || fail "the config edit was lost"
echo "ok: the edited config was kept"
expect "config after upgrade" "$(mode /etc/insite/insite.toml)" "640 root:insite"
start
in_root insite --config /etc/insite/insite.toml migrate status | grep -q "$reverted.*applied" || fail "migration $reverted did not run"
echo "ok: migration $reverted ran at start"
users | grep -q owner@acme.test || fail "data lost in the upgrade"
expect "master key kept" "$(sha256sum "$chroot_dir/var/lib/insite/keys/master.key" | cut -d' ' -f1)" "$key_sum"
echo "ok: data survived the upgrade"
stop

echo "== remove, then purge"
in_root dpkg -r insite >/dev/null 2>&1
[ ! -e "$chroot_dir/usr/bin/insite" ] || fail "remove left the binary"
[ -f "$chroot_dir/etc/insite/insite.toml" ] && [ -f "$chroot_dir/var/lib/insite/keys/master.key" ] || fail "remove deleted data or config"
echo "ok: remove keeps data and config"
in_root dpkg -P insite >/dev/null 2>&1
[ ! -e "$chroot_dir/etc/insite" ] && [ ! -e "$chroot_dir/var/lib/insite" ] || fail "purge left data or config"
echo "ok: purge deletes data and config"

echo "== the .rpm against the .deb"
deb_files=$(dpkg-deb -c "$deb1" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print substr($1, 2), $6}' | grep -v /usr/share/doc/insite/copyright | sort)
rpm_files=$(rpm -qp --queryformat '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm1" 2>/dev/null | awk '{print substr($1, 2), $2}' | sort)
[ "$deb_files" = "$rpm_files" ] || fail "files or modes differ:
$(diff <(echo "$deb_files") <(echo "$rpm_files"))"
echo "ok: same files and modes"
rpm -qp --queryformat '[%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm1" 2>/dev/null | grep -qx "insite /etc/insite/insite.toml" || fail "rpm config file group"
rpm -qp --queryformat '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm1" 2>/dev/null | grep -q "^cn /etc/insite/insite.toml" || fail "rpm config file not noreplace"
scripts=$(rpm -qp --scripts "$rpm1" 2>/dev/null)
deb_post=$(dpkg-deb -I "$deb1" postinst)
for step in "systemd-sysusers /usr/lib/sysusers.d/insite.conf" "systemd-tmpfiles --create /usr/lib/tmpfiles.d/insite.conf" \
    "chown root:insite /etc/insite/insite.toml" "sudo insite admin bootstrap"; do
    grep -qF "$step" <<<"$deb_post" || fail "deb postinst lacks: $step"
    grep -qF "$step" <<<"$scripts" || fail "rpm scriptlets lack: $step"
done
grep -q "enable --now insite.service" <<<"$scripts" && grep -q "deb-systemd-helper enable insite.service" <<<"$deb_post" || fail "enabling differs"
grep -q "try-restart insite.service" <<<"$scripts" || fail "rpm upgrade does not restart"
echo "ok: scriptlets do what the .deb's do"
rpm -qp --requires "$rpm1" 2>/dev/null | grep -qx systemd || fail "rpm does not require systemd"
echo "package test passed"
