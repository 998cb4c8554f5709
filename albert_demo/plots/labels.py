"""Token labels people can read: word pieces marked as pieces, long labels shortened.

    piece_label("\u2581cat")   # 'cat'   (begins a word)
    piece_label("s")          # '…s'    (continues the word before it)
    piece_label(".")          # '.'     (punctuation reads as itself)
    short("antidisestablishmentarianism", 12)   # 'antidisesta…'
"""

from albert_demo.masks import starts_word, surface_word

SPECIAL = ("[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>")
PIECE_MARK = "…"


def piece_label(piece):
    """A SentencePiece piece as a reader sees it: word starts bare, word-inner pieces
    that are letters or digits with a leading "…"."""
    if piece in SPECIAL:
        return piece
    if starts_word(piece):
        return surface_word(piece) or "␣"  # a lone word-start mark: a space
    return PIECE_MARK + piece if piece[:1].isalnum() else piece


def short(label, limit=14):
    return label if len(label) <= limit else label[:limit - 1] + "…"
