"""The owner's side of a campaign: agreement figures, the dashboard, the review queue and
adjudication, evaluation on the gold, gold sentences, export and push to the Hub. Every
method here is for the campaign's owner only (`policies.require_owner`)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from albert_demo.campaigns import agreement as agree
from albert_demo.campaigns import checks, policies
from albert_demo.campaigns import schema as db
from albert_demo.campaigns.errors import CampaignError
from albert_demo.campaigns.identity import Annotator, shown_name
from albert_demo.campaigns.records import CampaignRecords, judged_count
from albert_demo.masks import MASK, fill_masks


class CampaignReview(CampaignRecords):
    def agreement(self, annotator: Annotator, campaign_id) -> dict:
        """Owner only: percent agreement, Krippendorff's alpha, per-annotator agreement with
        the majority of the others, model top-1 accuracy against the gold so far (the unit
        and coding: `agreement`)."""
        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, "see its agreement figures")
            items = self._items_with_judgments(conn, campaign)
        figures = agree.figures([self._for_agreement(i) for i in items], campaign["presets"])
        for row in figures["annotators"]:
            row["annotator"] = shown_name(row["annotator"])
        return {"campaign_id": campaign["id"], **figures}

    def dashboard(self, annotator: Annotator, campaign_id) -> dict:
        """Owner only: what the dashboard plots (cumulative judgments over time, per
        annotator counts), the agreement figures, and the leases held now (``blocking``:
        the item has no room for anyone else until the lease is answered or runs out)."""
        now = self.clock()
        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, "see its dashboard")
            rows = conn.execute(select(db.judgments.c.created_at, db.judgments.c.annotator).where(
                db.judgments.c.campaign_id == campaign["id"], db.judgments.c.kind == "judged")
                .order_by(db.judgments.c.created_at, db.judgments.c.id)).all()
            needed = self._summary(conn, campaign, annotator)["progress"]["needed"]
            other = db.leases.alias("other")
            active = conn.execute(
                select(db.leases.c.item_id, db.leases.c.annotator, db.leases.c.expires_at,
                       judged_count(db.leases.c.item_id).label("judged"),
                       select(func.count()).select_from(other)
                       .where(other.c.item_id == db.leases.c.item_id, other.c.expires_at > now)
                       .scalar_subquery().label("leased"))
                .where(db.leases.c.campaign_id == campaign["id"], db.leases.c.expires_at > now)
                .order_by(db.leases.c.expires_at)).all()
        per: dict[str, int] = {}
        for r in rows:
            per[shown_name(r.annotator)] = per.get(shown_name(r.annotator), 0) + 1
        leases = [{"item_id": r.item_id, "annotator": shown_name(r.annotator),
                   "expires_at": r.expires_at.isoformat(),
                   "blocking": r.judged + r.leased >= campaign["overlap"]} for r in active]
        return {"timeline": [[r.created_at.isoformat(), n] for n, r in enumerate(rows, 1)],
                "needed": needed, "per_annotator": per, "leases": leases,
                "agreement": self.agreement(annotator, campaign_id)}

    def review(self, annotator: Annotator, campaign_id, limit: int = 50) -> list[dict]:
        """Owner only: items where annotators disagree, none won a majority, or someone
        flagged; unsettled ones first, then the least agreement. Per item: its agreement
        (share of agreeing pairs, per mask, averaged) and per mask the votes per word."""
        limit = checks.bounded(limit, "limit", 1, 1000)
        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, "review it")
            items = self._items_with_judgments(conn, campaign)
        out = []
        for item in items:
            plain = self._for_agreement(item)
            flags = [j for j in item["all"] if j.kind == "flagged"]
            if not item["judgments"] and not flags:
                continue
            gold = agree.gold(plain)
            unsettled = any(word is None for word, _ in gold)
            agreement = agree.item_agreement(plain)
            disagreeing = agreement is not None and agreement < 1
            if not (flags or disagreeing or (unsettled and len(item["judgments"]) >= 2)):
                continue
            out.append({
                "item_id": item["id"], "text": item["text"], "options": item["options"],
                "reference": item["reference"], "gold": [w for w, _ in gold],
                "gold_source": [s for _, s in gold], "agreement": agreement,
                "votes": [agree.votes(plain, m) for m in range(len(item["options"]))],
                "judged": len(item["judgments"]), "unsettled": unsettled,
                "judgments": [{"annotator": shown_name(j.annotator), "kind": j.kind,
                               "answers": j.answers, "note": j.note} for j in item["all"]]})
        out.sort(key=lambda r: (not r["unsettled"], 1.0 if r["agreement"] is None
                                else r["agreement"], r["item_id"]))
        return out[:limit]

    def adjudicate(self, annotator: Annotator, campaign_id, item_id, gold,
                   confirm_own_word: bool = False) -> dict:
        """Owner only: settle the gold word of each [MASK] (None leaves one to the
        majority). A word no annotator picked there is refused unless
        ``confirm_own_word``; it is then recorded as the owner's own (source "owner")."""
        now = self.clock()
        with self.store.write() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, "adjudicate")
            item = self._item(conn, campaign, item_id, lock=True)
            n = item["text"].count(MASK)
            if isinstance(gold, str):
                gold = [gold]
            if not isinstance(gold, list) or len(gold) != n:
                raise CampaignError(f"Give one gold word per [MASK]: item #{item['id']} "
                                    f"has {n}.")
            gold = [agree.norm(checks.text(g, f"Gold word {m + 1}", checks.MAX_WORD))
                    for m, g in enumerate(gold)]
            answers = conn.execute(select(db.judgments.c.answers).where(
                db.judgments.c.item_id == item["id"],
                db.judgments.c.kind == "judged")).scalars().all()
            sources = []
            for m, word in enumerate(gold):
                chosen = set().union(*(agree.picked(a[m]) for a in answers))
                if word is None or word in chosen:
                    sources.append("adjudicated" if word else None)
                elif confirm_own_word:
                    sources.append("owner")
                else:
                    raise CampaignError(
                        f"No annotator picked {word!r} for [MASK {m + 1}] of item "
                        f"#{item['id']} (they picked: {', '.join(sorted(chosen)) or 'nothing'}"
                        "). Confirm to record it as your own word.")
            conn.execute(update(db.items).where(db.items.c.id == item["id"]).values(
                gold=gold, gold_source=sources, gold_by=annotator.id, gold_at=now))
        return {"item_id": item["id"], "gold": gold, "gold_source": sources}

    def _gold_items(self, annotator, campaign_id, action):
        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, action)
            items = self._items_with_judgments(conn, campaign)
        return campaign, [(i["text"], [w for w, _ in agree.gold(self._for_agreement(i))])
                          for i in items]

    def evaluate(self, annotator: Annotator, campaign_id, presets) -> list[dict]:
        """Owner only: top-1 / top-5 of each preset against the campaign's gold so far, one
        row per gold mask (the item's other masks filled with their gold words)."""
        from albert_demo.services.evaluation import evaluate_model

        campaign, golds = self._gold_items(annotator, campaign_id, "evaluate on its gold")
        items = []
        for text, words in golds:
            if None in words:
                continue
            for m, word in enumerate(words):
                items.append((fill_masks(text, words[:m] + [MASK] + words[m + 1:]), word))
        if not items:
            raise CampaignError("No item has a gold word for every [MASK] yet: collect "
                                "judgments or settle some in the review.")
        presets = [p for p in (presets or campaign["presets"]) if p]
        return [evaluate_model(self.cache.get(p), items) for p in presets]

    def gold_texts(self, annotator: Annotator, campaign_id) -> str:
        """Owner only: every item whose masks all have gold, filled in, one per line: a
        text file the Fine-tune tab accepts."""
        _, golds = self._gold_items(annotator, campaign_id, "download its gold sentences")
        lines = [fill_masks(text, words) for text, words in golds if None not in words]
        if not lines:
            raise CampaignError("No item has a gold word for every [MASK] yet.")
        return "\n".join(lines) + "\n"

    def export(self, annotator: Annotator, campaign_id, out_dir) -> dict:
        """Owner only: a `datasets`-loadable folder (configs "gold" and "judgments", a
        dataset card with the agreement figures) and a zip of it."""
        from albert_demo.campaigns import export

        with self.store.read() as conn:
            campaign = self._campaign(conn, campaign_id)
            policies.require_owner(campaign, annotator, "export it")
            items = self._items_with_judgments(conn, campaign)
        figures = agree.figures([self._for_agreement(i) for i in items], campaign["presets"])
        return export.write(campaign, items, figures, out_dir)

    def push_to_hub(self, annotator: Annotator, campaign_id, repo_id: str, token: str,
                    out_dir, *, private: bool = True, endpoint: str | None = None) -> dict:
        """Owner only: export, then upload the folder as a dataset repository."""
        from albert_demo.campaigns import export

        written = self.export(annotator, campaign_id, out_dir)
        return export.push(written["folder"], repo_id, token, private=private,
                           endpoint=endpoint)
