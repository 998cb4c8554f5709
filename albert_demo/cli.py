"""Command line: the app's operations without the app.

    python -m albert_demo predict "The sky is [MASK]." --preset albert_tiny_en_uncased --top-k 5

prints the same JSON as the /predict API (and /predict_joint, /score_candidates).

    python -m albert_demo deploy-space OWNER/NAME [--private] [--token T] [--dry-run]

uploads this checkout as a Gradio Space (albert_demo/spaces/deploy.py).
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
    deploy = commands.add_parser("deploy-space", help="upload this checkout as a Gradio "
                                 "Space on Hugging Face (see albert_demo/spaces/deploy.py)")
    deploy.add_argument("space", metavar="OWNER/NAME")
    deploy.add_argument("--private", action="store_true", help="create the Space private")
    deploy.add_argument("--token", help="a write token (default: HF_TOKEN or `hf auth login`)")
    deploy.add_argument("--dry-run", action="store_true",
                        help="list the files and their total size; upload nothing")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.command == "deploy-space":
        from albert_demo.spaces.deploy import run
        return run(args)
    from albert_demo.engine import ModelCache
    from albert_demo.errors import UserError
    from albert_demo.services import PredictionService

    predictions = PredictionService(ModelCache())
    try:
        if args.candidates:
            result = predictions.score_candidates(args.text, args.preset, args.candidates)
        elif args.joint:
            result = predictions.predict_joint(args.text, args.preset, args.top_k)
        else:
            result = predictions.predict(args.text, args.preset, args.top_k)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
