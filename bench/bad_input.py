#!/usr/bin/env python3
"""The bad-input catalogue, run: how many cases were tried and how many handled.

A case is one test of the catalogue files below (a broken wav, a data file with
duplicate ids, a non-UTF-8 transcript line, a misspelled config key, a truncated
checkpoint, a command given a missing file ...); it is handled when the input gets a
clear message naming the file, the line or the utterance and the good utterances go on,
which is what each test asserts. Target: every case tried is handled.

    python bench/bad_input.py
"""

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = {
    "wavs, data files, labels, configs, models": "test/data/test_bad_input_catalogue.py",
    "data and models (earlier cases)": "test/data/test_bad_input.py",
    "corpora as users have them": "test/corpora/test_corpus_input.py",
    "commands given mistakes": "test/test_commands.py",
}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "cases.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}"]
        subprocess.run(cmd + list(CATALOGUE.values()), cwd=REPO, capture_output=True)
        cases = ET.parse(xml).getroot().iter("testcase")
        by_file = {name: {"tried": 0, "handled": 0} for name in CATALOGUE}
        for case in cases:
            path = case.get("classname", "").replace(".", "/")
            name = next(n for n, f in CATALOGUE.items() if path.startswith(f[:-3]))
            if case.find("skipped") is not None:
                continue
            by_file[name]["tried"] += 1
            if case.find("failure") is None and case.find("error") is None:
                by_file[name]["handled"] += 1
    print(
        json.dumps(
            {
                "tried": sum(v["tried"] for v in by_file.values()),
                "handled": sum(v["handled"] for v in by_file.values()),
                "by_kind": by_file,
            }
        )
    )


if __name__ == "__main__":
    main()
