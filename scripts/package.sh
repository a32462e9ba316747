#!/usr/bin/env bash
# `make package`: insite's .deb and .rpm from one stripped release binary, and a .deb
# and .rpm per model that is present in models/ and verified against the manifest
# (insite-model-NAME, files under /usr/share/insite/models).
#   PACKAGE_OUT       where packages go (default: dist)
#   PACKAGE_REVISION  package revision, e.g. 2 for an upgrade of the same version (default: 1)
#   PACKAGE_MODELS    space-separated manifest names (default: every verified model)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${PACKAGE_OUT:-dist}
revision=${PACKAGE_REVISION:-1}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
bin=target/release/insite
[ -x "$bin" ] || { echo "package: $bin is missing; run make build first" >&2; exit 1; }
mkdir -p "$out" dist
out=$(cd "$out" && pwd)

# One binary for both packages, stripped once.
strip --strip-unneeded -o dist/insite "$bin"

echo "== insite $version-$revision"
cargo deb --no-build --no-strip --deb-revision "$revision" --output "$out/insite_${version}-${revision}_amd64.deb"
cargo generate-rpm --set-metadata "release = \"$revision\"" --output "$out/insite-${version}-${revision}.x86_64.rpm"

# --- model packages --------------------------------------------------------------
python3 - "$root/models/manifest" "${PACKAGE_MODELS:-}" >dist/models.tsv <<'PY'
import sys, tomllib
models = tomllib.load(open(sys.argv[1], "rb"))["model"]
wanted = sys.argv[2].split()
for m in models:
    if not wanted or m["name"] in wanted:
        print("\t".join([m["name"], m["file"], m["sha256"], m["licence"], m["kind"]]))
PY
while IFS=$'\t' read -r name file sha licence kind; do
    src="models/$file"
    if [ ! -f "$src" ]; then
        echo "== model $name: models/$file not present; no package (make models fetches it)"
        continue
    fi
    "$bin" models verify "$src" >/dev/null
    # Package names follow the models' common names (qwen2.5-coder-1.5b-instruct: qwen2.5-1.5b).
    short=$(echo "$name" | sed -e 's/^qwen2\.5-coder-\(.*\)-instruct$/qwen2.5-\1/' -e 's/\./-/g; s/^qwen2-5-/qwen2.5-/')
    pkg="insite-model-$short"
    echo "== $pkg $version-$revision ($file)"
    stage=$(mktemp -d)
    mkdir -p "$stage/usr/share/insite/models" "$stage/DEBIAN" "$stage/usr/share/doc/$pkg"
    cp "$src" "$stage/usr/share/insite/models/$file"
    echo "$sha  $file" >"$stage/usr/share/insite/models/$file.sha256"
    chmod 0644 "$stage/usr/share/insite/models/"*
    printf 'Model %s for insite (%s).\nLicence: %s\nsha256: %s\n' "$name" "$kind" "$licence" "$sha" >"$stage/usr/share/doc/$pkg/README"
    cat >"$stage/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version-$revision
Architecture: all
Maintainer: insite engineering <packaging@insite.invalid>
Section: misc
Priority: optional
Installed-Size: $(( $(stat -c %s "$src") / 1024 + 8 ))
Enhances: insite
Description: $name model for insite ($kind)
 The $name model file, verified against insite's model manifest
 (sha256 $sha), installed under /usr/share/insite/models.
 Licence: $licence
CONTROL
    cat >"$stage/DEBIAN/postinst" <<POSTINST
#!/bin/sh
# Refuses a damaged copy: the file must match the manifest's sha256.
set -e
cd /usr/share/insite/models && sha256sum --quiet -c $file.sha256
POSTINST
    chmod 0755 "$stage/DEBIAN/postinst"
    dpkg-deb --root-owner-group -Znone --build "$stage" "$out/${pkg}_${version}-${revision}_all.deb" >/dev/null
    # The .rpm from the same files, with cargo-generate-rpm over a throwaway manifest.
    rpmdir=$(mktemp -d)
    cat >"$rpmdir/Cargo.toml" <<TOML
[package]
name = "$pkg"
version = "$version"
license = "LicenseRef-Model"
description = "$name model for insite ($kind), verified sha256 $sha"
[package.metadata.generate-rpm]
release = "$revision"
summary = "$name model for insite"
post_install_script = "cd /usr/share/insite/models && sha256sum --quiet -c $file.sha256"
assets = [
    { source = "$stage/usr/share/insite/models/$file", dest = "/usr/share/insite/models/$file", mode = "644" },
    { source = "$stage/usr/share/insite/models/$file.sha256", dest = "/usr/share/insite/models/$file.sha256", mode = "644" },
    { source = "$stage/usr/share/doc/$pkg/README", dest = "/usr/share/doc/$pkg/README", mode = "644", doc = true },
]
TOML
    mkdir -p "$rpmdir/src" && touch "$rpmdir/src/lib.rs"
    (cd "$rpmdir" && cargo generate-rpm --payload-compress none --arch noarch --output "$out/${pkg}-${version}-${revision}.noarch.rpm")
    rm -rf "$stage" "$rpmdir"
done <dist/models.tsv
echo "== packages in $out:"
ls -la "$out"
