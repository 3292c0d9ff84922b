#!/usr/bin/env python3
"""Runs every interop check in this folder (check_*.py) and prints a closing count.

Each check is a script that exits 0 on success; SWIFTQUANT names the CLI binary.
"""
import glob
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
checks = sorted(glob.glob(os.path.join(here, "check_*.py")))
passed = failed = 0
for check in checks:
    name = os.path.basename(check)
    result = subprocess.run([sys.executable, check], env=os.environ)
    if result.returncode == 0:
        passed += 1
        print(f"interop: {name} ok")
    else:
        failed += 1
        print(f"interop: {name} FAILED (status {result.returncode})")
print(f"interop: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
