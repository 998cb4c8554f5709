#!/usr/bin/env python3
"""Train the uncased SentencePiece unigram vocabulary for the embedded ALBERT.

Reads data/corpus/train.txt (one paragraph per line, see build_corpus.py),
splits paragraphs into sentences, normalises them exactly like the tokenizer
normalises its input (transformers' AlbertTokenizer with do_lower_case=True,
remove_space=True, keep_accents=False), samples up to --max-sentences of them
deterministically, and trains a unigram model with ALBERT's special ids:

    0 <pad>   1 <unk>   2 [CLS]   3 [SEP]   4 [MASK]     (no <s>/</s>)

Writes data/vocab/vocabulary.spm (the model) and data/vocab/vocabulary.vocab,
then checks the special ids and fails loudly if they are wrong.

Example:
  python scripts/train_vocab.py --vocab-size 16000
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
import unicodedata

# --------------------------------------------------------------------------
# Knobs
# --------------------------------------------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_TXT = os.path.join(ROOT, "data", "corpus", "train.txt")
OUT_DIR = os.path.join(ROOT, "data", "vocab")
OUT_NAME = "vocabulary"            # -> vocabulary.spm, vocabulary.vocab
VOCAB_SIZE = 16000
MAX_SENTENCES = 3_000_000          # sample size fed to the trainer
SEED = 20261126
NUM_THREADS = max(1, min(16, os.cpu_count() or 1))
MAX_SENTENCE_BYTES = 4192          # sentencepiece's default max_sentence_length
SPECIALS = {"<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
SAMPLE_TEXT = "the cat sat on the mat. i forgot my homework."

SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def normalize(text: str) -> str:
    """Input normalisation of the tokenizer (mirrors AlbertTokenizer.preprocess_text
    with remove_space=True, keep_accents=False, do_lower_case=True)."""
    out = " ".join(text.strip().split())
    out = out.replace("``", '"').replace("''", '"')
    out = unicodedata.normalize("NFKD", out)
    out = "".join(c for c in out if not unicodedata.combining(c))
    return out.lower()


def log(t0, msg):
    print(f"[{time.time() - t0:7.1f}s] {msg}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=TRAIN_TXT, help="paragraph-per-line training text (default: %(default)s)")
    ap.add_argument("--out-dir", default=OUT_DIR, help="output folder (default: %(default)s)")
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE, help="vocabulary size (default: %(default)s)")
    ap.add_argument("--max-sentences", type=int, default=MAX_SENTENCES,
                    help="sentences sampled for training (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=NUM_THREADS)
    args = ap.parse_args()

    import sentencepiece as spm

    t0 = time.time()
    os.makedirs(args.out_dir, exist_ok=True)
    sample_path = os.path.join(args.out_dir, OUT_NAME + ".train-sample.txt")

    # 1. sentences, normalised; deterministic reservoir-free sampling: keep
    #    every sentence with probability p chosen from a first counting pass.
    log(t0, f"reading {args.input}")
    with open(args.input, encoding="utf-8") as f:
        paras = [l for l in f if l.strip()]
    n_est = sum(len(SENT_SPLIT.split(p)) for p in paras)
    p_keep = min(1.0, args.max_sentences / max(1, n_est))
    log(t0, f"{len(paras)} paragraphs, ~{n_est} sentences; keeping each with p={p_keep:.3f}")
    rng = random.Random(args.seed)
    n_kept = 0
    with open(sample_path, "w", encoding="utf-8") as out:
        for p in paras:
            for s in SENT_SPLIT.split(p.strip()):
                if rng.random() >= p_keep:
                    continue
                s = normalize(s)
                if not s or len(s.encode("utf-8")) > MAX_SENTENCE_BYTES:
                    continue
                out.write(s + "\n")
                n_kept += 1
    del paras
    log(t0, f"wrote {n_kept} normalised sentences to {sample_path}")

    # 2. train
    if hasattr(spm, "set_random_generator_seed"):
        spm.set_random_generator_seed(args.seed)
    prefix = os.path.join(args.out_dir, OUT_NAME)
    t1 = time.time()
    log(t0, f"training unigram model, vocab_size={args.vocab_size}, threads={args.threads}")
    spm.SentencePieceTrainer.train(
        input=sample_path,
        model_prefix=prefix,
        model_type="unigram",
        vocab_size=args.vocab_size,
        character_coverage=0.9999,
        normalization_rule_name="nmt_nfkc",
        input_sentence_size=args.max_sentences,
        shuffle_input_sentence=True,
        max_sentence_length=MAX_SENTENCE_BYTES,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        pad_piece="<pad>", unk_piece="<unk>",
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        byte_fallback=False,
        split_digits=True,
        num_threads=args.threads,
        minloglevel=1,
    )
    train_s = time.time() - t1
    os.replace(prefix + ".model", prefix + ".spm")
    log(t0, f"training took {train_s:.1f}s; wrote {prefix}.spm and {prefix}.vocab")

    # 3. verify
    sp = spm.SentencePieceProcessor(model_file=prefix + ".spm")
    errors = []
    if sp.get_piece_size() != args.vocab_size:
        errors.append(f"vocab size {sp.get_piece_size()} != {args.vocab_size}")
    for piece, want in SPECIALS.items():
        got = sp.piece_to_id(piece)
        if got != want or sp.id_to_piece(want) != piece:
            errors.append(f"{piece}: id {got}, expected {want}")
    if sp.bos_id() != -1 or sp.eos_id() != -1 or sp.pad_id() != 0 or sp.unk_id() != 1:
        errors.append(f"bos/eos/pad/unk ids {sp.bos_id()}/{sp.eos_id()}/{sp.pad_id()}/{sp.unk_id()}")
    for i in (2, 3, 4):
        if not sp.is_control(i):
            errors.append(f"id {i} ({sp.id_to_piece(i)}) is not a control symbol")
    if errors:
        print("VOCABULARY CHECK FAILED:\n  " + "\n  ".join(errors), file=sys.stderr)
        sys.exit(1)
    log(t0, "special ids OK: " + ", ".join(f"{p}={i}" for p, i in SPECIALS.items()))
    print("first 40 pieces after the specials:", [sp.id_to_piece(i) for i in range(5, 45)])
    text = normalize(SAMPLE_TEXT)
    print(f"{text!r} ->", sp.encode(text, out_type=str))
    print("ids:", sp.encode(text))
    os.remove(sample_path)
    log(t0, f"done (vocabulary training time {train_s:.1f}s)")


if __name__ == "__main__":
    main()
