#!/usr/bin/env python
"""Ship a small held-out sample with the embedded model, for CI's quality check.

Takes paragraphs of data/corpus/valid.txt (never trained on) that come from the
public-domain / CC0 sources only, so the sample can be redistributed freely.
"""

import argparse
import random
from pathlib import Path

FREE_SOURCES = ["sotu", "moby_dick", "bible_web", "spam_assassin_ham"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--valid", default="data/corpus/valid.txt")
    p.add_argument("--extracted", default="data/extracted")
    p.add_argument("--out", default="assets/albert_tiny_en_uncased/heldout_sample.txt")
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    free = set()
    for name in FREE_SOURCES:
        path = Path(args.extracted) / f"{name}.txt"
        if path.exists():
            free.update(line.strip() for line in path.open(encoding="utf-8"))
    valid = [line.strip() for line in open(args.valid, encoding="utf-8")]
    chosen = [line for line in valid if line in free and len(line.split()) >= 12]
    random.Random(args.seed).shuffle(chosen)
    Path(args.out).write_text("\n".join(chosen[:args.count]) + "\n", encoding="utf-8")
    print(f"{min(len(chosen), args.count)} of {len(chosen)} free held-out paragraphs "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
