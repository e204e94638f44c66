#!/usr/bin/env python3
"""Opens a roster CSV in LibreOffice, headless, as a person opening it would, and checks
what the spreadsheet shows (run by .ci/run after the roster test wrote the file):

    python3 tests/fault/spreadsheet.py <dir with roster.csv and roster-expected.json>

Two ways of opening: the import that evaluates formulas (what Excel does with a CSV), and
LibreOffice's default import. In both, every hostile name must show as typed (no formula
run: a HYPERLINK would show its label instead) and every identity number as its 18
characters, not as 4.1E+17.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

UTF8_COMMA = "44,34,76,1"


def fail(msg):
    print(f"FATAL: {msg}", file=sys.stderr)
    sys.exit(1)


def shown(path, infilter):
    """The cells as LibreOffice shows them, exported again to CSV."""
    out = tempfile.mkdtemp()
    profile = tempfile.mkdtemp()
    cmd = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless"]
    if infilter:
        cmd.append(f"--infilter=CSV:{infilter}")
    cmd += ["--convert-to", f"csv:Text - txt - csv (StarCalc):{UTF8_COMMA}", "--outdir", out, path]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    result = os.path.join(out, os.path.basename(path))
    with open(result, encoding="utf-8-sig", errors="replace") as f:
        rows = list(csv.reader(f))
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(profile, ignore_errors=True)
    return rows


def main():
    if shutil.which("soffice") is None:
        fail("LibreOffice (soffice) is not installed")
    folder = sys.argv[1]
    expected = json.load(open(os.path.join(folder, "roster-expected.json"), encoding="utf-8"))
    path = os.path.join(folder, "roster.csv")
    for how, infilter in [("evaluating formulas", UTF8_COMMA + ",,,,,,,true"), ("as typed", UTF8_COMMA)]:
        rows = shown(path, infilter)
        header, body = rows[0], rows[1:]
        name_col, id_col = header.index("申请人姓名"), header.index("身份证号码")
        names = [r[name_col] for r in body]
        ids = [r[id_col].strip() for r in body]
        for n in expected["names"]:
            if f"'{n}" not in names and n not in names:
                fail(f"{how}: the name {n!r} shows as one of {names}: a formula ran")
        for i in expected["ids"]:
            if i not in ids:
                fail(f"{how}: the identity number {i} shows as one of {ids}")
        print(f"LibreOffice, {how}: {len(body)} rows, names as typed, identity numbers whole")


if __name__ == "__main__":
    main()
