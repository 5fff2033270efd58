# SPDX-License-Identifier: Apache-2.0
"""The ok/FAIL lines of the ship checks written in Python (recipes_test.py, monitoring_test.py):
every check prints its outcome, and the script ends failing when any check failed."""
import sys

failures = []


def check(condition, what):
    print(("    ok: " if condition else "    FAIL: ") + what)
    if not condition:
        failures.append(what)
    return condition


def finish(script):
    if failures:
        print(f"\n    {script}: {len(failures)} check(s) failed")
        sys.exit(1)
    print(f"\n    {script}: all checks passed")
