"""Compare modelgate scan with picklescan (and modelscan when installed) on
the scanner corpus, tests/data/scan/expected.json: for each tool, samples
detected, missed and false positives (benign samples flagged), and total
time. Prints a Markdown table.

    python bench/compare_scanners.py ./target/release/modelgate VENV_BIN_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(__file__), "..")
DATA = os.path.join(ROOT, "tests", "data")


def modelgate(binary):
    def run(path):
        out = subprocess.run([binary, "scan", path, "--format", "json"], capture_output=True, text=True)
        if out.returncode == 2:
            return None
        report = json.loads(out.stdout)
        return any(f["severity"] in ("critical", "high", "medium") for file in report["files"] for f in file["findings"])
    return run


def picklescan(venv):
    exe = os.path.join(venv, "picklescan")
    def run(path):
        out = subprocess.run([exe, "-p", path], capture_output=True, text=True)
        # picklescan: 0 clean, 1 dangerous globals found, 2 scan error.
        if out.returncode == 2:
            return None
        text = out.stdout + out.stderr
        return out.returncode == 1 or "Infected files: 0" not in text
    return run


def modelscan(venv):
    exe = os.path.join(venv, "modelscan")
    def run(path):
        out = subprocess.run([exe, "-p", path], capture_output=True, text=True)
        if out.returncode not in (0, 1):
            return None
        return out.returncode == 1
    return run


def main():
    binary, venv = sys.argv[1], sys.argv[2]
    expected = json.load(open(os.path.join(DATA, "scan", "expected.json")))
    tools = [("modelgate", modelgate(binary)), ("picklescan", picklescan(venv))]
    if os.path.exists(os.path.join(venv, "modelscan")):
        tools.append(("modelscan", modelscan(venv)))
    print("| tool | malicious detected | missed | errors (no verdict) | benign flagged (false positives) | time |")
    print("|---|---|---|---|---|---|")
    details = {}
    for name, run in tools:
        detected = missed = errors = false_positives = 0
        start = time.perf_counter()
        for relative, rules in sorted(expected.items()):
            path = os.path.join(DATA, relative)
            verdict = run(path)
            malicious = bool(rules)
            if verdict is None:
                errors += 1
                if malicious:
                    missed += 1
                details.setdefault(relative, {})[name] = "error"
            elif malicious and verdict:
                detected += 1
                details.setdefault(relative, {})[name] = "detected"
            elif malicious:
                missed += 1
                details.setdefault(relative, {})[name] = "missed"
            elif verdict:
                false_positives += 1
                details.setdefault(relative, {})[name] = "false positive"
            else:
                details.setdefault(relative, {})[name] = "clean"
        elapsed = time.perf_counter() - start
        n_bad = sum(1 for r in expected.values() if r)
        print(f"| {name} | {detected}/{n_bad} | {missed} | {errors} | {false_positives} | {elapsed:.2f}s |")
    print()
    print("| sample | expected | " + " | ".join(n for n, _ in tools) + " |")
    print("|---|---|" + "---|" * len(tools))
    for relative, rules in sorted(expected.items()):
        print(f"| {relative} | {', '.join(rules) or 'clean'} | " + " | ".join(details[relative].get(n, "") for n, _ in tools) + " |")


if __name__ == "__main__":
    main()
