"""Write a tiny Gemma 3 style GGUF model with sliding-window attention that
llama.cpp loads and runs (random weights, so its text is noise), for the
KV-cache estimate's tests (crates/inspect/tests/kv_cache.rs) and for
comparing that estimate with what llama.cpp allocates.

    ~/.cache/modelgate/venv/bin/python scripts/testdata/make_swa_gguf.py OUT.gguf
        [--layers 12] [--window 128] [--pattern N] [--context 4096]

The model (architecture `gemma3`, every tensor llama.cpp's Gemma 3 loader
requires, models/gemma3.cpp):
  embedding 64, 2 query heads, 1 KV head, key/value head width 64
  (key_length/value_length set, not the 64/2 llama.cpp would derive),
  feed-forward 128, context_length 4096, sliding_window 128;
  no sliding_window_pattern key unless --pattern is given, so llama.cpp
  uses Gemma 3's own pattern (5 sliding : 1 global, layer il slides when
  il % 6 < 5); 12 layers give 10 sliding and 2 global layers (5 and 11).
  Vocabulary: a SentencePiece ("llama") tokenizer of <unk> <s> </s>, the 256
  byte tokens <0x00>..<0xFF> and a few hundred word pieces.
  Weights: F32 norms, F16 matrices, from numpy's generator with seed 0, so
  the file is the same bytes every run.

The file is written to a temporary file beside OUT and renamed, so readers never see a
partial file. Weights are never committed: tests generate the file into the
fixtures cache.
"""
import argparse
import os
import sys

import numpy as np
import gguf

N_EMBD = 64
N_HEAD = 2
N_HEAD_KV = 1
HEAD_DIM = 64
N_FF = 128

PIECES = (
    "the of and to in is that it for was on are as with his they at be this from have "
    "or by one had not but what all were when we there can an your which their said if "
    "do will each about how up out them then she many some so these would other into has "
    "more her two like him see time could no make than first been its who now people my "
    "made over did down only way find use may water long little very after words called "
    "just where most know get through back much go good new write our me man too any day "
    "same right look think also around another came come work three word must because "
    "does part even place well such here take why things help put years different away "
    "again off went old number great tell men say small every found still between name "
    "should home big give air line set own under read last never us left end along while "
    "might next sound below saw something thought both few those always looked show large "
    "often together asked house world going want school important until form food keep "
    "children feet land side without boy once animals life enough took sometimes four head "
    "above kind began almost live page got earth need far hand high year mother light parts "
    "country father let night following picture being study second eyes soon times story "
    "boys since white days paper hard near sentence better best across during today others "
    "however sure means knew try told young miles sun ways thing whole hear example heard "
    "several change answer room sea against top turned learn point city play toward five "
    "using himself usually"
).split()


def vocabulary():
    tokens, scores, types = [], [], []

    def add(text, score, kind):
        tokens.append(text)
        scores.append(score)
        types.append(kind)

    add("<unk>", 0.0, gguf.TokenType.UNKNOWN)
    add("<s>", 0.0, gguf.TokenType.CONTROL)
    add("</s>", 0.0, gguf.TokenType.CONTROL)
    for byte in range(256):
        add(f"<0x{byte:02X}>", 0.0, gguf.TokenType.BYTE)
    add("\u2581", -1.0, gguf.TokenType.NORMAL)
    for letter in "abcdefghijklmnopqrstuvwxyz":
        add(letter, -2.0, gguf.TokenType.NORMAL)
        add("\u2581" + letter, -2.5, gguf.TokenType.NORMAL)
    seen = set(tokens)
    for rank, word in enumerate(PIECES):
        piece = "\u2581" + word
        if piece not in seen:
            seen.add(piece)
            add(piece, -3.0 - rank / 1000.0, gguf.TokenType.NORMAL)
    return tokens, scores, types


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--pattern", type=int, default=None,
                        help="write attention.sliding_window_pattern = N")
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args()

    arch = gguf.MODEL_ARCH.GEMMA3
    arch_name = gguf.MODEL_ARCH_NAMES[arch]
    rng = np.random.default_rng(0)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)

    tmp = f"{args.out}.tmp{os.getpid()}"
    writer = gguf.GGUFWriter(tmp, arch_name)
    writer.add_name("modelgate tiny gemma3 swa")
    writer.add_context_length(args.context)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(args.layers)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_key_length(HEAD_DIM)
    writer.add_value_length(HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_sliding_window(args.window)
    if args.pattern is not None:
        writer.add_sliding_window_pattern(args.pattern)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    def name(tensor, bid=None):
        base = gguf.TENSOR_NAMES[tensor]
        return (base.format(bid=bid) if bid is not None else base) + ".weight"

    def matrix(rows, cols):
        # numpy shape (rows, cols) is ggml's {cols, rows}: cols inputs, rows outputs.
        return (rng.standard_normal((rows, cols)) * 0.05).astype(np.float16)

    def norm(n):
        return (rng.standard_normal(n) * 0.01).astype(np.float32)

    T = gguf.MODEL_TENSOR
    writer.add_tensor(name(T.TOKEN_EMBD), matrix(n_vocab, N_EMBD))
    writer.add_tensor(name(T.OUTPUT_NORM), norm(N_EMBD))
    q_width = N_HEAD * HEAD_DIM
    kv_width = N_HEAD_KV * HEAD_DIM
    for bid in range(args.layers):
        writer.add_tensor(name(T.ATTN_NORM, bid), norm(N_EMBD))
        writer.add_tensor(name(T.ATTN_Q, bid), matrix(q_width, N_EMBD))
        writer.add_tensor(name(T.ATTN_K, bid), matrix(kv_width, N_EMBD))
        writer.add_tensor(name(T.ATTN_V, bid), matrix(kv_width, N_EMBD))
        writer.add_tensor(name(T.ATTN_OUT, bid), matrix(N_EMBD, q_width))
        writer.add_tensor(name(T.ATTN_POST_NORM, bid), norm(N_EMBD))
        writer.add_tensor(name(T.ATTN_K_NORM, bid), norm(HEAD_DIM))
        writer.add_tensor(name(T.ATTN_Q_NORM, bid), norm(HEAD_DIM))
        writer.add_tensor(name(T.FFN_PRE_NORM, bid), norm(N_EMBD))
        writer.add_tensor(name(T.FFN_GATE, bid), matrix(N_FF, N_EMBD))
        writer.add_tensor(name(T.FFN_UP, bid), matrix(N_FF, N_EMBD))
        writer.add_tensor(name(T.FFN_DOWN, bid), matrix(N_EMBD, N_FF))
        writer.add_tensor(name(T.FFN_POST_NORM, bid), norm(N_EMBD))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, args.out)
    print(args.out)


if __name__ == "__main__":
    sys.exit(main())
