"""A campaign as a Hugging Face dataset: a folder `datasets.load_dataset` reads (configs
"gold" and "judgments"), a zip of it, and an optional push to the Hub.

Annotators appear as pseudonyms (annotator_1, annotator_2, … in order of first answer):
the export is meant to be shared, their logins are not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from albert_demo.campaigns import agreement as agree

GOLD_FILE = "data/gold.jsonl"
JUDGMENTS_FILE = "data/judgments.jsonl"

_CARD = """\
---
configs:
- config_name: gold
  default: true
  data_files:
  - split: train
    path: {gold_file}
- config_name: judgments
  data_files:
  - split: train
    path: {judgments_file}
task_categories:
- fill-mask
language:
- en
---

# {name}

An annotation campaign of the albert-demo app: for each sentence, annotators marked which of
the masked language model's top-{top_k} candidates fit each `[MASK]` (presets:
{presets}; {blind}), typed the right word when none did, or skipped/flagged the item. Each
item was wanted {overlap} times.

Where the source sentence had a word at a `[MASK]` (the word masked out, or a gold word
given with the sentence), that original word was shown among the candidates, shuffled in
with the model's words and unmarked, so annotators could not tell it apart; the
`original_candidate` field says which candidate it was ({originals} of {n_masks} masks).

## Agreement

| figure | value |
|---|---|
| items | {n_items} |
| judgments | {n_judged} (plus {n_skipped} skipped, {n_flagged} flagged) |
| items with two or more judgments | {two_plus} |
| masks judged by two or more (units) | {units} |
| percent agreement (pairs who picked the same words, per unit) | {percent} |
| Krippendorff's alpha (nominal) | {alpha} |
| masks with a gold word | {gold_masks} |
| masks unsettled | {unsettled} |
{accuracy}
Per annotator (agreement with the majority of the *other* annotators, where they have one):

| annotator | judgments | units where the others had a majority | agreement with it |
|---|---|---|---|
{annotators}

A unit is one `[MASK]` of one item. An annotator's value there is the set of words they
picked (ticked candidates and a typed word; "none of these fit" is the empty set); two
annotators agree when they picked the same word(s). Krippendorff's alpha codes each
distinct set as one nominal category. Gold per mask: the owner's settled word where given
(`adjudicated`: a word an annotator picked; `owner`: the owner's own word), else the word
more than half of the item's annotators picked once two or more judged it (`majority`);
otherwise null (`unsettled`).

## Files

- `{gold_file}` (config `gold`): `item_id`, `text` (with `[MASK]`), `gold` (per mask),
  `gold_source` (`adjudicated` / `owner` / `majority` / `unsettled`), `reference` (the original word where
  the source had one), `original_candidate` (per mask: which candidate shown was that
  original word, or null), `judged`, `skipped`, `flagged`, `predictions` (per preset, top-k
  per mask).
- `{judgments_file}` (config `judgments`): every raw answer: `item_id`, `annotator`
  (pseudonym), `verified` (logged in), `kind` (judged / skipped / flagged), `answers`
  (per mask `accepted` candidates and `typed` word), `note`, `created_at`.

```python
import datasets
gold = datasets.load_dataset("path/to/this/folder", "gold")["train"]
raw = datasets.load_dataset("path/to/this/folder", "judgments")["train"]
```
"""


def _pct(value):
    return "n/a" if value is None else f"{value:.1%}"


def _alpha(value):
    return "undefined (no variation)" if value is None else f"{value:.3f}"


def card(campaign, items, figures) -> str:
    kinds = [j.kind for item in items for j in item["all"]]
    accuracy = "".join(
        f"| {row['preset']} top-1 accuracy vs gold ({row['gold_masks']} masks) | "
        f"{_pct(row['top1_accuracy'])} |\n" for row in figures["model_accuracy"])
    pseudonyms = _pseudonyms(items)
    annotators = "\n".join(
        f"| {pseudonyms.get(row['annotator'], row['annotator'])} | {row['judgments']} | "
        f"{row['units_with_a_majority_of_others']} | "
        f"{_pct(row['agreement_with_majority'])} |" for row in figures["annotators"])
    presets = campaign["presets"]
    return _CARD.format(
        gold_file=GOLD_FILE, judgments_file=JUDGMENTS_FILE, name=campaign["name"],
        top_k=campaign["top_k"], presets=", ".join(f"`{p}`" for p in presets),
        blind=("two presets side by side in a random order per item, unnamed"
               if len(presets) == 2 else "one preset"),
        overlap=campaign["overlap"], n_items=len(items), n_judged=kinds.count("judged"),
        n_skipped=kinds.count("skipped"), n_flagged=kinds.count("flagged"),
        two_plus=figures["items_with_two_or_more"], units=figures["units"],
        percent=_pct(figures["percent_agreement"]),
        alpha=_alpha(figures["krippendorff_alpha"]), gold_masks=figures["gold_masks"],
        unsettled=figures["unsettled_masks"],
        accuracy=accuracy, annotators=annotators or "| (none yet) | | | |",
        originals=sum(agree.norm(w) is not None for item in items for w in item["reference"]),
        n_masks=sum(len(item["reference"]) for item in items))


def _pseudonyms(items) -> dict:
    order = sorted((j.created_at, j.id, j.annotator) for item in items for j in item["all"])
    names: dict[str, str] = {}
    for _, _, annotator in order:
        names.setdefault(annotator, f"annotator_{len(names) + 1}")
    return names


def rows(campaign, items) -> tuple[list[dict], list[dict]]:
    names = _pseudonyms(items)
    gold_rows, raw = [], []
    for item in items:
        settled = agree.gold({"options": item["options"], "gold": item["gold"],
                              "gold_source": item["gold_source"],
                              "judgments": item["judgments"]})
        kinds = [j.kind for j in item["all"]]
        gold_rows.append({
            "item_id": item["id"], "text": item["text"],
            "gold": [w for w, _ in settled], "gold_source": [s for _, s in settled],
            "reference": item["reference"],
            "original_candidate": [agree.norm(w) for w in item["reference"]],
            "judged": kinds.count("judged"),
            "skipped": kinds.count("skipped"), "flagged": kinds.count("flagged"),
            "predictions": [{"preset": p, "top_k": item["predictions_words"][p]}
                            for p in campaign["presets"]]})
        for j in item["all"]:
            raw.append({"item_id": item["id"], "annotator": names[j.annotator],
                        "verified": bool(j.verified), "kind": j.kind,
                        "answers": j.answers or [], "note": j.note,
                        "created_at": j.created_at.isoformat()})
    return gold_rows, raw


def _jsonl(rows_) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows_)


def slug(campaign) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", campaign["name"].lower()).strip("-")[:40]
    return f"campaign-{campaign['id']}" + (f"-{name}" if name else "")


def write(campaign, items, figures, out_dir) -> dict:
    """Write `<out_dir>/<slug>/` and `<out_dir>/<slug>.zip`, each replaced whole (a reader
    never sees half an export)."""
    from albert_demo.campaigns.errors import CampaignError

    gold_rows, raw = rows(campaign, items)
    if not raw:
        raise CampaignError("Nothing to export yet: the campaign has no answers.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = slug(campaign)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir))
    try:
        (tmp / "data").mkdir()
        (tmp / GOLD_FILE).write_text(_jsonl(gold_rows), encoding="utf-8")
        (tmp / JUDGMENTS_FILE).write_text(_jsonl(raw), encoding="utf-8")
        (tmp / "README.md").write_text(card(campaign, items, figures), encoding="utf-8")
        zip_tmp = shutil.make_archive(str(tmp) + "-zip", "zip", root_dir=tmp)
        folder, archive = out_dir / name, out_dir / f"{name}.zip"
        if folder.exists():
            old = out_dir / f".{name}-old-{os.getpid()}"
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
        os.replace(zip_tmp, archive)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"folder": str(folder), "zip": str(archive), "items": len(gold_rows),
            "judgments": len(raw), "agreement": figures}


def push(folder, repo_id: str, token: str, *, private: bool = True,
         endpoint: str | None = None) -> dict:
    """Create (or reuse) a dataset repository and upload the export folder in one commit."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from albert_demo.campaigns.errors import CampaignError

    if not isinstance(repo_id, str) or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id or ""):
        raise CampaignError("Name the dataset repository as 'owner/name'.")
    if not isinstance(token, str) or not token.strip():
        raise CampaignError("A Hugging Face token with write access is needed to push.")
    api = HfApi(endpoint=endpoint, token=token.strip())
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id,
                                   repo_type="dataset",
                                   commit_message="Export of an albert-demo campaign")
    except HfHubHTTPError as e:
        raise CampaignError(f"The Hub refused the upload: {e}") from None
    return {"repo_url": str(url), "commit_url": getattr(commit, "commit_url", str(commit))}
