#!/usr/bin/env python3
"""Reference sentence embeddings for crates/embed's tests: a BERT forward
pass written out in NumPy (float64), independent of candle.

    reference_embed.py FILES_JSON < REQUEST_JSON > RESPONSE_JSON

FILES_JSON maps a snapshot's relative paths ("config.json",
"1_Pooling/config.json", "model.safetensors", ...) to the files holding
them, as SentenceEncoder::load_files takes them. REQUEST_JSON is
{"inputs": [{"text": "..."} | {"tokens": [ids]}]}; the answer is
{"items": [{"ids": [...], "vector": [...], "truncated": bool}]}.

What it does, following sentence-transformers' modules: tokenize with the
`tokenizers` package from tokenizer.json (default prompt in front,
truncation at sentence_bert_config.json's max_seq_length, no padding), one
input at a time; embeddings (word + position + token type 0) and LayerNorm;
each encoder layer (self-attention, residual + LayerNorm, GELU with the
exact erf, residual + LayerNorm; eps from config.json); pooling as
1_Pooling/config.json says (prompt tokens left out when include_prompt is
false); L2 normalisation when modules.json lists Normalize.
"""

import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

ERF = np.vectorize(math.erf, otypes=[np.float64])


def read_json(files, relative, default=None):
    path = files.get(relative)
    if path is None:
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def join(module, relative):
    return f"{module}/{relative}" if module else relative


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def activation(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if name == "relu":
        return np.maximum(x, 0.0)
    raise SystemExit(f"unknown activation {name}")


class Bert:
    def __init__(self, files, module, config):
        weights = {}
        single = join(module, "model.safetensors")
        if single in files:
            weights.update(load_file(files[single]))
        else:
            index = read_json(files, join(module, "model.safetensors.index.json"))
            for shard in sorted(set(index["weight_map"].values())):
                weights.update(load_file(files[join(module, shard)]))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {k[len(prefix):]: v.astype(np.float64) for k, v in weights.items() if k.startswith(prefix)}
        self.config = config
        self.eps = float(config["layer_norm_eps"])

    def linear(self, name, x):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def ln(self, name, x):
        return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def forward(self, ids):
        c, w = self.config, self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(n)]
            + w["embeddings.token_type_embeddings.weight"][np.zeros(n, dtype=np.int64)]
        )
        x = self.ln("embeddings.LayerNorm", x)
        heads = c["num_attention_heads"]
        d = c["hidden_size"] // heads
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(n, heads, d).transpose(1, 0, 2)

            q = split(self.linear(p + "attention.self.query", x))
            k = split(self.linear(p + "attention.self.key", x))
            v = split(self.linear(p + "attention.self.value", x))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs = probs / probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, heads * d)
            attention = self.linear(p + "attention.output.dense", context)
            x = self.ln(p + "attention.output.LayerNorm", attention + x)
            hidden = activation(c.get("hidden_act", "gelu"), self.linear(p + "intermediate.dense", x))
            out = self.linear(p + "output.dense", hidden)
            x = self.ln(p + "output.LayerNorm", out + x)
        return x


def pool(config, tokens, skip):
    """sentence-transformers' Pooling over one unpadded sequence; rows
    before `skip` (the prompt) are masked out of all but CLS."""
    n, hidden = tokens.shape
    mask = np.ones(n)
    mask[:skip] = 0.0
    out = []
    if config.get("pooling_mode_cls_token"):
        out.append(tokens[0])
    if config.get("pooling_mode_max_tokens"):
        out.append(np.where(mask[:, None] > 0, tokens, -1e9).max(axis=0))
    summed = (tokens * mask[:, None]).sum(axis=0)
    count = max(mask.sum(), 1e-9)
    if config.get("pooling_mode_mean_tokens"):
        out.append(summed / count)
    if config.get("pooling_mode_mean_sqrt_len_tokens"):
        out.append(summed / math.sqrt(count))
    if config.get("pooling_mode_weightedmean_tokens"):
        weights = np.arange(1, n + 1) * mask
        out.append((tokens * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-9))
    if config.get("pooling_mode_lasttoken"):
        last = int(np.nonzero(mask)[0][-1]) if mask.any() else n - 1
        out.append(tokens[last])
    return np.concatenate(out)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        files = json.load(f)
    request = json.load(sys.stdin)

    modules = read_json(files, "modules.json")
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    assert kinds[:2] == ["Transformer", "Pooling"], kinds
    module = modules[0].get("path", "")
    pooling_config = read_json(files, join(modules[1]["path"], "config.json"))
    normalize = kinds[2:] == ["Normalize"]

    config = read_json(files, join(module, "config.json"))
    st_config = read_json(files, join(module, "sentence_bert_config.json"), {})
    max_len = min(st_config["max_seq_length"], config["max_position_embeddings"])

    tokenizer = Tokenizer.from_file(files[join(module, "tokenizer.json")])
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_len)

    prompts = read_json(files, "config_sentence_transformers.json", {})
    prompt = ""
    if prompts.get("default_prompt_name"):
        prompt = prompts["prompts"][prompts["default_prompt_name"]]
    skip = 0
    if prompt and not pooling_config.get("include_prompt", True):
        skip = len(tokenizer.encode(prompt).ids) - 1

    bert = Bert(files, module, config)
    items = []
    for item in request["inputs"]:
        if "text" in item:
            encoding = tokenizer.encode(prompt + item["text"])
            ids = encoding.ids
            truncated = len(encoding.overflowing) > 0
            row_skip = skip
        else:
            ids = item["tokens"][:max_len]
            truncated = len(item["tokens"]) > max_len
            row_skip = 0
        vector = pool(pooling_config, bert.forward(np.array(ids, dtype=np.int64)), row_skip)
        if normalize:
            vector = vector / max(np.linalg.norm(vector), 1e-12)
        items.append({"ids": list(ids), "vector": vector.tolist(), "truncated": truncated})
    json.dump({"items": items}, sys.stdout)


if __name__ == "__main__":
    main()
