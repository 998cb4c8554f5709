#!/usr/bin/env python3
"""Carry the v2 training data to a GPU machine in parts, and rebuild + tokenize it there.

Why: a device call sends the whole working tree, at most 64 MiB, and the tracked files
(the v1 preset's 52 MB of weights) leave ~9 MiB for data. train_v2.txt is 113 MB, but it
repeats paragraphs (up-sampled sources); its distinct paragraphs are ~75 MB of text and
compress (xz -9) to ~19 MB. So:

  pack    (here)   data/corpus/train_v2.txt -> data/gpu/
                     unique.txt.xz.partNN   distinct paragraphs, xz, split in --part-mb parts
                     index.npy.xz           train_v2.txt line -> distinct paragraph
                     valid.txt.xz           the held-out split (v1's, unchanged)
                     manifest.json          md5s and counts, to check the rebuild
  unpack  (there)  data/gpu/ -> data/corpus/train_v2.txt (md5-checked), valid.txt, and
                     data/tokens_v2/train.npz (distinct paragraphs tokenized in parallel,
                     then laid out in train_v2.txt order: exactly what
                     pretrain.tokenize_file would write, in seconds instead of a minute)

The parts travel over consecutive calls to a warm machine (ignored files already there
are kept between calls): see docs/embedded-v2-plan.md.

    python scripts/pack_v2_data.py pack --part-mb 8
    python scripts/pack_v2_data.py unpack --vocab assets/albert_tiny_en_uncased/assets/tokenizer/vocabulary.spm
"""

import argparse
import glob
import hashlib
import io
import json
import lzma
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack(args):
    train, out = Path(args.train), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = train.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    ids, unique = {}, []
    index = np.empty(len(lines), dtype="uint32")
    for i, line in enumerate(lines):
        j = ids.get(line)
        if j is None:
            j = ids[line] = len(unique)
            unique.append(line)
        index[i] = j
    text = ("\n".join(unique) + "\n").encode("utf-8")
    log(f"{len(lines)} lines, {len(unique)} distinct ({len(text) / 1e6:.1f} MB); "
        f"compressing (xz -{args.preset}) ...")
    packed = lzma.compress(text, preset=args.preset)
    for old in glob.glob(str(out / "unique.txt.xz.part*")):
        os.remove(old)
    size = int(args.part_mb * 1e6)
    parts = [packed[i:i + size] for i in range(0, len(packed), size)]
    for n, part in enumerate(parts):
        (out / f"unique.txt.xz.part{n:02d}").write_bytes(part)
    buf = io.BytesIO()
    np.save(buf, index)
    (out / "index.npy.xz").write_bytes(lzma.compress(buf.getvalue(), preset=9))
    (out / "valid.txt.xz").write_bytes(lzma.compress(Path(args.valid).read_bytes(), preset=9))
    manifest = dict(train_md5=md5(train), valid_md5=md5(args.valid), lines=len(lines),
                    distinct=len(unique), distinct_mb=round(len(text) / 1e6, 2),
                    packed_mb=round(len(packed) / 1e6, 2), parts=len(parts),
                    part_mb=args.part_mb)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"{len(packed) / 1e6:.1f} MB in {len(parts)} parts -> {out}: {manifest}")


_SP = None


def _init(vocab):
    global _SP
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ["JAX_PLATFORMS"] = "cpu"
    from albert_demo.models.albert_tokenizer import AlbertTokenizer
    _SP = AlbertTokenizer(vocab)


def _tokenize(chunk):
    return [np.asarray(ids, dtype="uint16") for ids in _SP(chunk)]


def unpack(args):
    src = Path(args.out)
    manifest = json.loads((src / "manifest.json").read_text())
    parts = sorted(glob.glob(str(src / "unique.txt.xz.part*")))
    if len(parts) != manifest["parts"]:
        sys.exit(f"{len(parts)} of {manifest['parts']} parts of unique.txt.xz are here")
    text = lzma.decompress(b"".join(Path(p).read_bytes() for p in parts)).decode("utf-8")
    unique = text.split("\n")[:-1]
    index = np.load(io.BytesIO(lzma.decompress((src / "index.npy.xz").read_bytes())))
    train, valid = Path(args.train), Path(args.valid)
    train.parent.mkdir(parents=True, exist_ok=True)
    with open(train, "w", encoding="utf-8") as f:
        for j in index:
            f.write(unique[j] + "\n")
    valid.write_bytes(lzma.decompress((src / "valid.txt.xz").read_bytes()))
    for path, want in ((train, manifest["train_md5"]), (valid, manifest["valid_md5"])):
        if md5(path) != want:
            sys.exit(f"{path}: md5 differs from the packed one")
    log(f"rebuilt {train} ({manifest['lines']} lines) and {valid}; md5s match")
    # Tokens exactly as pretrain.tokenize_file lays them out: each line's ids, then [SEP].
    t = time.time()
    chunks = [[u + "\n" for u in unique[i:i + 2000]] for i in range(0, len(unique), 2000)]
    with multiprocessing.get_context("spawn").Pool(args.workers, _init, (args.vocab,)) as pool:
        pieces = [ids for part in pool.map(_tokenize, chunks) for ids in part]
    _init(args.vocab)
    sep = _SP.sep_token_id
    lengths = np.array([len(p) + 1 for p in pieces])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    per_line = lengths[index]
    tokens = np.empty(int(per_line.sum()), dtype="uint16")
    flat = np.concatenate([np.append(p, sep).astype("uint16") for p in pieces])
    out_starts = np.concatenate([[0], np.cumsum(per_line)[:-1]])
    for j, o in zip(index, out_starts):  # a loop over 0.4M lines: a few seconds
        n = lengths[j]
        tokens[o:o + n] = flat[starts[j]:starts[j] + n]
    cache = Path(args.tokens) / "train.npz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, tokens=tokens)  # uncompressed: written and read faster, never carried
    os.replace(tmp, cache)
    log(f"{len(tokens):,} tokens in {time.time() - t:.0f}s ({args.workers} processes) "
        f"-> {cache}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["pack", "unpack"])
    p.add_argument("--train", default=str(ROOT / "data" / "corpus" / "train_v2.txt"))
    p.add_argument("--valid", default=str(ROOT / "data" / "corpus" / "valid.txt"))
    p.add_argument("--out", default=str(ROOT / "data" / "gpu"))
    p.add_argument("--tokens", default=str(ROOT / "data" / "tokens_v2"))
    p.add_argument("--vocab", default=str(ROOT / "assets" / "albert_tiny_en_uncased" /
                                          "assets" / "tokenizer" / "vocabulary.spm"))
    p.add_argument("--part-mb", type=float, default=8.0)
    p.add_argument("--preset", type=int, default=9)
    p.add_argument("--workers", type=int, default=max(1, min(16, os.cpu_count() or 1)))
    args = p.parse_args()
    pack(args) if args.action == "pack" else unpack(args)


if __name__ == "__main__":
    main()
