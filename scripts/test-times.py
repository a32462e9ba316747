#!/usr/bin/env python3
"""Per-test wall times from cargo-nextest's JUnit report.

Writes one line per test, `seconds name`, slowest first, under a first line
`total: N s` (the run's wall time; tests run in parallel, so the sum of their own
times, also given, is larger), and prints the slowest ones.

    scripts/test-times.py JUNIT_XML OUT_TXT [--top 15]
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("junit")
    ap.add_argument("out")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    if not os.path.isfile(args.junit):
        print(f"no JUnit report at {args.junit}: no per-test times", file=sys.stderr)
        return 1
    root = ET.parse(args.junit).getroot()
    times = []
    for case in root.iter("testcase"):
        binary = case.get("classname", "")
        name = case.get("name", "")
        label = f"{binary} {name}".strip()
        failed = case.find("failure") is not None or case.find("error") is not None
        times.append((float(case.get("time", "0")), label + (" (FAILED)" if failed else "")))
    times.sort(key=lambda t: -t[0])
    summed = sum(t for t, _ in times)
    total = float(root.get("time", summed))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(f"total: {total:.0f} s (wall; {summed:.0f} s summed over {len(times)} tests)\n")
        for t, label in times:
            f.write(f"{t:.1f} {label}\n")
    print(f"== per-test times: {len(times)} tests in {total:.0f} s wall ({summed:.0f} s summed): {args.out}")
    print(f"   the slowest {min(args.top, len(times))}:")
    for t, label in times[: args.top]:
        print(f"   {t:8.1f} s  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
