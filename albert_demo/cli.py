"""Command line: the app's operations without the app.

    python -m albert_demo predict "The sky is [MASK]." --preset albert_tiny_en_uncased --top-k 5

prints the same JSON as the /predict API (and /predict_joint, /score_candidates).
"""

import argparse
import json
import sys

from albert_demo.presets.registry import EMBEDDED_PRESET


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m albert_demo")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="top-k guesses for every [MASK]")
    predict.add_argument("text")
    predict.add_argument("--preset", default=EMBEDDED_PRESET)
    predict.add_argument("--top-k", type=int, default=5)
    predict.add_argument("--joint", action="store_true",
                         help="fill masks most confident first, re-predicting after each")
    predict.add_argument("--candidates", help="score these comma-separated words instead")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from albert_demo.engine import ModelCache
    from albert_demo.ui.handlers import USER_ERRORS, Handlers

    handlers = Handlers(ModelCache())
    try:
        if args.candidates:
            result = handlers.score_candidates(args.text, args.preset, args.candidates)
        elif args.joint:
            result = handlers.predict_joint(args.text, args.preset, args.top_k)
        else:
            result = handlers.predict(args.text, args.preset, args.top_k)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
