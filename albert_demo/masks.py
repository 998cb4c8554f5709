"""The `[MASK]` placeholder and SentencePiece's word-start mark, defined once.

    fill_masks("The [MASK] is [MASK].", ["sky", "blue"])   # 'The sky is blue.'
    surface_word("\u2581cat")                             # 'cat'
"""

MASK = "[MASK]"
WORD_START = "\u2581"  # SentencePiece marks a piece that begins a word with "▁"


def fill_masks(text, words):
    """`text` with its [MASK]s replaced, in order, by `words` (each already a string;
    pass the same string back, e.g. MASK, to keep a mask)."""
    parts = text.split(MASK)
    out = [parts[0]]
    for word, rest in zip(words, parts[1:]):
        out += [word, rest]
    return "".join(out)


def starts_word(piece):
    return piece.startswith(WORD_START)


def surface_word(piece):
    """A piece as a reader sees it: "▁cat" -> "cat"; "" when the piece is only the mark."""
    return piece.replace(WORD_START, " ").strip()
