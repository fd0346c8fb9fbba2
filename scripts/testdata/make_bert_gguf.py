"""Convert a sentence-transformers BERT snapshot (all-MiniLM-L6-v2 and its
kin) to a GGUF embedding model that llama.cpp loads as architecture `bert`,
laid out as llama.cpp's convert_hf_to_gguf.py lays one out, for the engine's
embedding tests (crates/engine/tests/embeddings.rs).

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_bert_gguf.py \
        SNAPSHOT_DIR OUT.gguf [--type f32|f16] [--name NAME]

SNAPSHOT_DIR holds config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, modules.json and the pooling module's config.json.
Only the `gguf`, `safetensors` and `numpy` packages are used (no torch).

What is written:
  hparams    bert.context_length (max_position_embeddings), embedding_length,
             feed_forward_length, block_count, attention.head_count,
             attention.layer_norm_epsilon, attention.causal = false and
             bert.pooling_type from the sentence-transformers Pooling module
             (mean 1, cls 2, last token 3).
  tokenizer  tokenizer.ggml.model "bert" (llama.cpp's WordPiece, WPM): every
             id below vocab_size, added special tokens as CONTROL and kept
             verbatim, other added tokens USER_DEFINED, the rest NORMAL;
             llama.cpp's WPM matches words with a phantom space in front, so a
             word-initial piece is written as "\u2581piece" and a continuation
             "##piece" as "piece". The special ids and add_bos/add_eos come
             from gguf.SpecialVocab (as the converter takes them), the
             token-type count from type_vocab_size, and the BertNormalizer's
             lowercase / strip_accents flags from tokenizer.json.
             tokenizer.ggml.pre is "default": llama.cpp reads no
             pre-tokenizer for WPM vocabularies.
  tensors    token_embd, position_embd, token_types, token_embd_norm and per
             block attn_q/k/v, attn_output, attn_output_norm, ffn_up,
             ffn_down, layer_output_norm (weights and biases); the pooler and
             position_ids are dropped. With --type f16 the 2-D weight matrices
             are F16; biases, norms, position and token-type embeddings stay
             F32, as the converter keeps them.

The file is written to a temporary file beside OUT and renamed, so readers
never see a partial file. Never commit the output: tests generate it.
"""
import argparse
import json
import os
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file

NORMALIZER_LOWERCASE = "tokenizer.ggml.normalizer.lowercase"
NORMALIZER_STRIP_ACCENTS = "tokenizer.ggml.normalizer.strip_accents"
CLS_ID = "tokenizer.ggml.cls_token_id"

POOLING = {
    "pooling_mode_mean_tokens": gguf.PoolingType.MEAN,
    "pooling_mode_cls_token": gguf.PoolingType.CLS,
    "pooling_mode_lasttoken": gguf.PoolingType.LAST,
}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pooling_type(snapshot):
    """The sentence-transformers Pooling module's mode, as a GGUF pooling type."""
    modules = read_json(os.path.join(snapshot, "modules.json"))
    for module in modules:
        if module["type"].rsplit(".", 1)[-1] == "Pooling":
            config = read_json(os.path.join(snapshot, module["path"], "config.json"))
            modes = [key for key, on in config.items() if key.startswith("pooling_mode_") and on]
            if len(modes) != 1 or modes[0] not in POOLING:
                sys.exit(f"pooling {modes} has no GGUF pooling type (one of {sorted(POOLING)} is needed)")
            return POOLING[modes[0]]
    sys.exit("modules.json names no Pooling module")


def phantom(token, toktype):
    """llama.cpp's WPM spelling of a WordPiece token."""
    if toktype == gguf.TokenType.CONTROL:
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def vocabulary(snapshot, vocab_size):
    tokenizer = read_json(os.path.join(snapshot, "tokenizer.json"))
    model = tokenizer["model"]
    if model.get("type") != "WordPiece":
        sys.exit(f"tokenizer.json model is {model.get('type')!r}, not WordPiece")
    reverse = {i: t for t, i in model["vocab"].items()}
    added = {}
    for entry in tokenizer.get("added_tokens", []):
        reverse[entry["id"]] = entry["content"]
        added[entry["id"]] = entry
    tokens, toktypes = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
            continue
        if i in added:
            toktype = gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED
        else:
            toktype = gguf.TokenType.NORMAL
        tokens.append(phantom(reverse[i], toktype))
        toktypes.append(toktype)
    normalizer = tokenizer.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        sys.exit(f"tokenizer.json normalizer is {normalizer.get('type')!r}, not BertNormalizer")
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    strip_accents = lowercase if strip_accents is None else bool(strip_accents)
    return tokens, toktypes, lowercase, strip_accents


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot")
    parser.add_argument("out")
    parser.add_argument("--type", choices=["f32", "f16"], default="f32")
    parser.add_argument("--name", default=None, help="general.name (default: the snapshot's folder name)")
    args = parser.parse_args()

    config = read_json(os.path.join(args.snapshot, "config.json"))
    if config.get("model_type") != "bert":
        sys.exit(f"config.json model_type is {config.get('model_type')!r}, not bert")
    if config.get("position_embedding_type", "absolute") != "absolute":
        sys.exit("only absolute position embeddings are supported")
    if config.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"hidden_act {config.get('hidden_act')!r}: llama.cpp's bert runs GELU")
    n_layer = int(config["num_hidden_layers"])
    f16 = args.type == "f16"

    tokens, toktypes, lowercase, strip_accents = vocabulary(args.snapshot, int(config["vocab_size"]))

    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT]
    tmp = f"{args.out}.tmp{os.getpid()}"
    writer = gguf.GGUFWriter(tmp, arch)
    writer.add_type(gguf.GGUFType.MODEL)
    name = args.name or os.path.basename(os.path.normpath(args.snapshot))
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)

    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layer)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling_type(args.snapshot))

    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(toktypes)
    writer.add_bool(NORMALIZER_LOWERCASE, lowercase)
    writer.add_bool(NORMALIZER_STRIP_ACCENTS, strip_accents)
    special = gguf.SpecialVocab(args.snapshot, n_vocab=len(tokens))
    # This gguf package has no writer for the CLS id: written by its key.
    cls = special.special_token_ids.pop("cls", None)
    if cls is not None:
        writer.add_uint32(CLS_ID, cls)
    special.add_to_gguf(writer, quiet=True)

    weights = load_file(os.path.join(args.snapshot, "model.safetensors"))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)
    keep_f32 = (
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD] + ".weight",
        gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES] + ".weight",
    )
    for hf_name in sorted(weights):
        short = hf_name[len("bert."):] if hf_name.startswith("bert.") else hf_name
        if short == "embeddings.position_ids" or short.startswith("pooler."):
            continue
        new_name = names.get_name(short, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            sys.exit(f"no GGUF name for tensor {hf_name}")
        data = weights[hf_name]
        if data.dtype not in (np.float32, np.float16):
            sys.exit(f"tensor {hf_name} is {data.dtype}, not a float")
        to_f16 = f16 and data.ndim == 2 and new_name.endswith(".weight") and new_name not in keep_f32
        data = data.astype(np.float16 if to_f16 else np.float32)
        writer.add_tensor(new_name, np.ascontiguousarray(data))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
