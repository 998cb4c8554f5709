"""Deploy this repository as a Gradio Space on Hugging Face.

    python -m albert_demo deploy-space OWNER/NAME [--private] [--token T] [--dry-run]

creates the Space if it does not exist (`create_repo(..., repo_type="space",
space_sdk="gradio", exist_ok=True)`) and uploads, in one commit over the Hub's HTTP API,
only what the Space runs: app.py, the albert_demo package, the embedded preset in assets/,
requirements.txt, README.md (its front matter configures the Space), .gitattributes and
the docs the README links to, and sets the Space's variables (SPACE_VARIABLES: the
official base preset as the default). No tests, benchmarks, corpus scripts, local data or
virtual environment. Files under albert_demo/, assets/ and docs/ that the Space still has from an
earlier deploy but this checkout no longer has are deleted in the same commit.

huggingface_hub decides per file, with the Hub's preupload answer, whether it goes inline
in the commit or through LFS (Xet when `hf_xet` is installed): binaries and files over
10 MiB take the LFS/Xet path, so git and git-lfs are not needed here. The token comes from
--token, else HF_TOKEN or `hf auth login`; it needs write access to OWNER. Without a
route to the Hub the command says so within 3 s (albert_demo.presets.reachability).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE_FILES = ["app.py", "requirements.txt", "README.md", ".gitattributes",
               "albert_demo/*", "assets/*", "docs/*"]
NEVER = ["__pycache__/*", "*/__pycache__/*", "*.pyc", "*.pyo", ".DS_Store", "*/.DS_Store",
         ".git/*", "*/.git/*"]
OWNED_FOLDERS = ["albert_demo/*", "assets/*", "docs/*"]  # stale files here are removed
# Set on the Space: visitors get the real ALBERT once it has downloaded (a Space reaches
# the Hub), the embedded preset until then.
SPACE_VARIABLES = {"ALBERT_DEMO_DEFAULT_PRESET": "albert_base_en_uncased"}


def space_files(root=ROOT):
    """[(path relative to root, bytes)] of what a deploy uploads, sorted; the same filter
    `upload_folder` applies to the same patterns."""
    from huggingface_hub.utils import filter_repo_objects

    root = Path(root)
    tops = {pattern.split("/")[0] for pattern in SPACE_FILES}  # skips .venv's 100k files
    candidates = [root / top for top in tops]
    candidates += [p for top in candidates if top.is_dir() for p in top.glob("**/*")]
    present = sorted(p.relative_to(root).as_posix() for p in candidates if p.is_file())
    chosen = filter_repo_objects(present, allow_patterns=SPACE_FILES, ignore_patterns=NEVER)
    return [(path, (root / path).stat().st_size) for path in chosen]


def check_repo_id(repo_id):
    owner, _, name = repo_id.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"Space id {repo_id!r} should be OWNER/NAME, e.g. "
                         "'your-name/albert-demo'.")
    return repo_id


def deploy_space(repo_id, private=False, token=None, root=ROOT, endpoint=None):
    """Create the Space if needed and upload this checkout to it; returns the commit info.

    endpoint: the Hub's address (default HF_ENDPOINT or https://huggingface.co)."""
    from huggingface_hub import HfApi

    from albert_demo.presets.reachability import hub_unreachable_reason

    check_repo_id(repo_id)
    unreachable = hub_unreachable_reason(endpoint)  # not a minute of retries
    if unreachable:
        raise ConnectionError(f"Hugging Face is not reachable from here ({unreachable}); "
                              "nothing was uploaded.")
    api = HfApi(endpoint=endpoint, token=token)
    # private=None keeps an existing Space's visibility and makes a new one public.
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True,
                    private=True if private else None)
    for key, value in SPACE_VARIABLES.items():  # before the upload: one build, not two
        api.add_space_variable(repo_id, key, value)
    return api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=str(root),
                             allow_patterns=SPACE_FILES, ignore_patterns=list(NEVER),
                             delete_patterns=OWNED_FOLDERS,
                             commit_message="Deploy albert-demo")


def describe(files):
    """The --dry-run listing: one line per file, then the count and total size."""
    lines = [f"{size:>12,}  {path}" for path, size in files]
    total = sum(size for _, size in files)
    lines.append(f"{len(files)} files, {total / 1e6:.1f} MB")
    return "\n".join(lines)


def run(args):
    """`python -m albert_demo deploy-space` (args from albert_demo.cli)."""
    import sys

    from huggingface_hub.errors import HfHubHTTPError

    try:
        check_repo_id(args.space)
        files = space_files(ROOT)
        if args.dry_run:
            print(describe(files))
            print(f"(dry run: nothing uploaded to the Space {args.space})")
            return 0
        info = deploy_space(args.space, private=args.private, token=args.token, root=ROOT)
    except (ValueError, OSError, HfHubHTTPError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    total = sum(size for _, size in files)
    print(f"Deployed {len(files)} files ({total / 1e6:.1f} MB) to {info.repo_url}: "
          f"commit {info.oid}. The Space builds and starts in a few minutes.")
    return 0
