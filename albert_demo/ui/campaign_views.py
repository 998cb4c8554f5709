"""What the Campaigns tab shows, as plain values: the sentence, the numbered candidates,
an answer from the boxes, the owner's figures and review rows as tables. No components
here: `campaigns_tab` puts these into the page."""

import html

from albert_demo.masks import MASK, fill_masks

# The last choice of each mask's checkboxes: an explicit "nothing here fits" (an answer
# with nothing ticked or typed is refused).
NONE_FIT = "(none of these fit)"



def sentence_html(text):
    """The sentence, escaped, each [MASK] numbered and highlighted."""
    text = html.escape(text)
    marks = [f"<mark class='campaign-mask'>[MASK {n}]</mark>"
             for n in range(1, text.count(MASK) + 1)]
    return f"<div id='campaign-sentence' style='font-size:1.3em'>{fill_masks(text, marks)}</div>"


def choices(item):
    """Per mask: [(label, word)], numbered across masks as the number keys count them;
    with two presets each word shows its rank in column A and B (blind)."""
    out, n = [], 0
    for mask in item["masks"]:
        ranks = [{w: r for r, w in enumerate(col["words"], 1)} for col in mask["columns"]]
        row = []
        for word in mask["options"]:
            n += 1
            where = ""
            if len(mask["columns"]) == 2:
                where = " (" + " · ".join(f"{col['label']}{rank[word]}" for col, rank in
                                          zip(mask["columns"], ranks) if word in rank) + ")"
            row.append((f"{n} · {word}{where}", word))
        n += 1
        row.append((f"{n} · none of these fit", NONE_FIT))
        out.append(row)
    return out


def answer_of(ticked, typed):
    """One mask's answer for the service from its checkboxes and typed word."""
    ticked = list(ticked or [])
    none_fit = NONE_FIT in ticked
    return {"accepted": [w for w in ticked if w != NONE_FIT], "typed": typed or None,
            "none_fit": none_fit}


def campaign_choices(service, annotator):
    return [(f"#{c['id']} {c['name']} · {c['progress']['judged']}/{c['progress']['needed']}",
             c["id"]) for c in service.list(annotator)]


def _pct(value):
    return "n/a" if value is None else f"{value:.0%}"


def figures_markdown(figures) -> str:
    """The agreement figures as a table people read (the JSON stays in the API)."""
    alpha = figures["krippendorff_alpha"]
    lines = [
        "| figure | value |", "|---|---|",
        f"| masks judged by two or more people | {figures['units']} |",
        f"| agreement: pairs who picked the same word(s) | "
        f"{_pct(figures['percent_agreement'])} |",
        f"| Krippendorff's α (nominal) | "
        f"{'undefined (no variation yet)' if alpha is None else f'{alpha:.2f}'} |",
        f"| masks with a gold word / unsettled | {figures['gold_masks']} / "
        f"{figures['unsettled_masks']} |"]
    lines += [f"| {row['preset']}: top-1 matches the gold | {_pct(row['top1_accuracy'])} "
              f"of {row['gold_masks']} |" for row in figures["model_accuracy"]]
    lines += ["", "| annotator | judgments | agrees with the majority of the others |",
              "|---|---|---|"]
    lines += [f"| {html.escape(row['annotator'])} | {row['judgments']} | "
              f"{_pct(row['agreement_with_majority'])} "
              f"(of {row['units_with_a_majority_of_others']} masks where they had one) |"
              for row in figures["annotators"]] or ["| (nobody yet) | | |"]
    lines += ["", f"A unit is {figures['unit']}; its {figures['coding']}."]
    return "\n".join(lines)


def leases_markdown(leases) -> str:
    if not leases:
        return "No item is held by anyone right now."
    blocking = sum(lease["blocking"] for lease in leases)
    lines = [f"**{len(leases)} item(s) held now**" + (
        f"; {blocking} with no room for anyone else until answered or expired" if blocking
        else ""), "", "| item | held by | until | blocks others |", "|---|---|---|---|"]
    lines += [f"| #{lease['item_id']} | {html.escape(lease['annotator'])} | "
              f"{lease['expires_at'][:19].replace('T', ' ')} UTC | "
              f"{'yes' if lease['blocking'] else ''} |" for lease in leases]
    return "\n".join(lines)


def _answer_text(answers):
    def one(a):
        if a.get("none_fit"):
            return "none fit"
        return ",".join(a.get("accepted", []) + ([a["typed"]] if a.get("typed") else []))
    return " / ".join(one(a) for a in answers)


def review_row(r) -> list:
    """One review item as a table row: who said what, the votes per word, the gold."""
    said = "; ".join(f"{j['annotator']}: " + (
        _answer_text(j["answers"]) if j["answers"] else
        j["kind"] + (f" ({j['note']})" if j["note"] else "")) for j in r["judgments"])
    votes = " / ".join(", ".join(f"{w} {n}/{r['judged']}" for w, n in v.items()) or "-"
                       for v in r["votes"])
    gold = " | ".join(g or "unsettled" for g in r["gold"])
    return [r["item_id"], r["text"], said, votes, gold, _pct(r["agreement"])]
