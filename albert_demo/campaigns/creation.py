"""Creating a campaign: items from a file or annotation rows, masks made where a sentence
has none, each item's candidates predicted once and stored with it."""

from __future__ import annotations

import random
import re
from typing import Any

from sqlalchemy import insert

from albert_demo.campaigns import checks, masking, policies, sources
from albert_demo.campaigns import schema as db
from albert_demo.campaigns.errors import CampaignError
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.records import CampaignRecords
from albert_demo.engine.errors import InputError, whole_number
from albert_demo.masks import MASK

PREDICT_CHUNK = 16


class CampaignCreation(CampaignRecords):
    def create(self, annotator: Annotator, name: str, *, source: Any = None,
               fmt: str | None = None, annotations: list | None = None,
               presets=("albert_tiny_en_uncased",), top_k: int = 5, overlap: int = 3,
               guidelines: str = "", masking: dict | None = None,
               lease_seconds: int | None = None, seed: int | None = None) -> dict:
        """A campaign from a file (.txt/.csv/.jsonl/datasets folder; path or bytes with
        ``fmt``) or from annotation rows. Sentences without [MASK] get masks from
        ``masking = {"strategy": "least_sure"|"random"|"words"|"none", "per_sentence": 1,
        "words": [...]}`` (strategy: an id or the page's label; default: least_sure, one
        per sentence). Returns the campaign summary."""
        policies.require_creator(annotator)
        name = checks.text(name, "Campaign name", 200, required=True)
        if isinstance(presets, str):
            presets = [p.strip() for p in presets.split(",") if p.strip()]
        presets = list(dict.fromkeys(presets or []))
        if not 1 <= len(presets) <= 2 or not all(isinstance(p, str) for p in presets):
            raise CampaignError("Choose one preset, or two to compare them blind.")
        top_k = checks.bounded(top_k, "top_k", 1, 20)
        overlap = checks.bounded(overlap, "Judgments per item", 1, 20)
        lease_seconds = checks.bounded(self.lease_seconds if lease_seconds is None else
                                 lease_seconds, "Lease seconds", 10, 86400)
        guidelines = checks.text(guidelines, "Guidelines", checks.MAX_GUIDELINES) or ""
        if (source is None) == (annotations is None):
            raise CampaignError("Give either a file or annotation rows to build items from.")
        records = (sources.from_annotations(annotations) if annotations is not None
                   else sources.read_file(source, fmt))
        predictors = [self.cache.get(p) for p in presets]
        records, made = self._masked(records, masking, predictors[0], seed)
        predictions = self._predict(records, presets, predictors, top_k)
        rng = random.Random(seed)
        now = self.clock()
        with self.store.write() as conn:
            campaign_id = conn.execute(insert(db.campaigns).values(
                name=name, owner=annotator.id, created_at=now, presets=presets, top_k=top_k,
                overlap=overlap, guidelines=guidelines, lease_seconds=lease_seconds,
                source={"kind": "annotations" if annotations is not None else "file",
                        "masking": made})).inserted_primary_key[0]
            conn.execute(insert(db.items), [
                {"campaign_id": campaign_id, "ordinal": n, "text": r["text"],
                 "reference": r["reference"] or [None] * r["text"].count(MASK),
                 "predictions": p, "swap": len(presets) == 2 and rng.random() < 0.5}
                for n, (r, p) in enumerate(zip(records, predictions))])
        return self.get(annotator, campaign_id)

    @staticmethod
    def _masked(records, settings, predictor, seed):
        """Masks for sentences that have none; returns (records, what was done)."""
        bare = [n for n, r in enumerate(records) if MASK not in r["text"]]
        if not bare:
            return records, None
        settings = settings or {}
        strategy = masking.strategy_id(settings.get("strategy"))
        if strategy == masking.NONE:
            raise CampaignError(
                f"Sentence {bare[0] + 1} has no {MASK}: add one, or choose how to mask it "
                f"under 'Masks for sentences without {MASK}' ("
                + ", ".join(f"'{masking.LABELS[s]}'" for s in masking.STRATEGIES) + ").")
        per = whole_number(settings.get("per_sentence") or 1, "Masks per sentence")
        word_list = settings.get("words") or []
        if isinstance(word_list, str):
            word_list = re.split(r"[,\s]+", word_list)
        made = masking.make_masks([records[n]["text"] for n in bare], strategy,
                                  per, word_list, predictor, seed or 0)
        out, dropped = list(records), set()
        for n, result in zip(bare, made):
            if result is None:
                dropped.add(n)
            else:
                out[n] = {"text": result[0], "reference": result[1]}
        out = [r for n, r in enumerate(out) if n not in dropped]
        if not out:
            raise CampaignError("The mask strategy found no word to mask in any sentence.")
        return out, {"strategy": strategy, "per_sentence": per,
                     "sentences_without_a_maskable_word": len(dropped)}

    @staticmethod
    def _predict(records, presets, predictors, top_k):
        """{preset: [[{"token", "score"}, ...] per mask]} per record; names a bad sentence."""
        out = [{} for _ in records]
        for preset, predictor in zip(presets, predictors):
            for start in range(0, len(records), PREDICT_CHUNK):
                chunk = records[start:start + PREDICT_CHUNK]
                try:
                    results = predictor.predict_batch([r["text"] for r in chunk], top_k)
                except InputError:
                    for n, r in enumerate(chunk, start + 1):  # find the sentence to blame
                        try:
                            predictor.predict(r["text"], top_k)
                        except InputError as e:
                            raise CampaignError(f"Sentence {n}: {e}") from None
                    raise
                for row, result in zip(out[start:], results):
                    row[preset] = [[{"token": p["token"], "score": round(p["score"], 6)}
                                    for p in m["predictions"]] for m in result["masks"]]
        return out
