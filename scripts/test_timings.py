#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where the suite's test time went: scripts/test.sh calls this at its end.

    test_timings.py BUILD_DIR...

Reads the JUnit files ctest wrote in each build directory (junit-*.xml, one per ctest run of
scripts/test.sh) and the tests' labels (ctest --show-only=json-v1), then prints the time per
label and build, the ten slowest tests and every failed test by name. A build directory without
JUnit files (its build failed or never ran) is named and skipped.
"""
import collections
import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree


def labels_of(build_dir):
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, capture_output=True,
                         text=True, check=False).stdout
    labels = {}
    for test in json.loads(out or '{"tests": []}').get("tests", []):
        for prop in test.get("properties", []):
            if prop.get("name") == "LABELS":
                labels[test["name"]] = prop["value"]
    return labels


def main(build_dirs):
    runs = []  # (build, test, seconds, failed)
    for build_dir in build_dirs:
        files = sorted(glob.glob(os.path.join(build_dir, "junit-*.xml")))
        if not files:
            print(f"    {build_dir}: no test results (its build failed or its tests did not run)")
            continue
        labels = labels_of(build_dir)
        per_label = collections.Counter()
        for path in files:
            for case in ElementTree.parse(path).getroot().iter("testcase"):
                name = case.get("name")
                seconds = float(case.get("time") or 0)
                failed = case.get("status") == "fail" or case.find("failure") is not None
                runs.append((build_dir, name, seconds, failed))
                for label in labels.get(name, ["(no label)"]):
                    per_label[label] += seconds
        print(f"\n    test time per ctest label in {build_dir} (a test counts in each of its labels):")
        for label, seconds in sorted(per_label.items(), key=lambda item: -item[1]):
            print(f"      {label:<12} {seconds:8.1f} s")

    if runs:
        print("\n    the ten slowest tests:")
        for build_dir, name, seconds, _ in sorted(runs, key=lambda run: -run[2])[:10]:
            print(f"      {seconds:8.1f} s  {name} ({build_dir})")
    failed = [(build_dir, name) for build_dir, name, _, failed in runs if failed]
    if failed:
        print("\n    failed tests:")
        for build_dir, name in failed:
            print(f"      {name} ({build_dir}); rerun: ctest --test-dir {build_dir} "
                  f"--output-on-failure -R '^{name}$'")


if __name__ == "__main__":
    main(sys.argv[1:])
