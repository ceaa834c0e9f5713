"""Docs numbers generated from code: `nmc report --check` (docs/experiments.md, "Numbers in
the docs").

Every number the docs quote from a model result is registered here with the code that gives
it, in one of two forms:

* **quote(doc, template)**: a phrase of the doc with fields, e.g.
  `quote("docs/experiments.md", "GPU+PIM is {crossover.pim_b1:.2S}× the GPU at batch 1")`.
  The literal text locates the phrase (any run of whitespace matches any other, so a phrase
  may wrap across lines); each field `{source.key:spec}` is the value `key` of source
  `source`, formatted by `spec`. The phrase must occur in the doc; every occurrence must show
  the formatted values.
* **block(doc, name, source, render)**: the whole text between `<!-- nmc:NAME -->` and
  `<!-- /nmc:NAME -->` (a generated table) must equal `render(values of source)`. `start=` /
  `end=` take other markers (docs/policy.md's `<!-- policy_table -->`).

A **source** is a function returning a dict of values, registered with `@source(name,
quick=...)`; it calls the library (a study's compute function, nmc.analyze,
best_operating_point, the validation runner, export.policy_table()) and runs once per check.
Quick sources (seconds each) form `nmc report --check --quick`, the CI subset; a quote or block
is in the quick subset when all of its sources are.

Format specs, besides Python's own (`.2f`, `.0%`, `d`, ...): `.NS` N significant digits with
a space between thousands (46 100, 0.15, 7.1); `.NR` the same without grouping (9712);
`.NE` N significant digits with a compact exponent (1.2e8); `.NP` a fraction as a percentage
number without the sign (0.456 -> 46 at .0P). None or NaN prints as "–".

Registration lives in the modules of this package, one per doc (experiments.py, training.py,
...); load_all() imports every module of the package, so a doc registers its numbers by adding
a module here (serving.py is the hook for docs/serving.md).

`check()` returns the differences ("docs/x.md:123: key: doc '7.1', code '6.8'"), the number of
numbers checked and the time; `write=True` rewrites the docs with the code's values instead
(how the docs are regenerated)."""
from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import io
import math
import pkgutil
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError


@dataclass
class Source:
    name: str
    fn: Callable[[], dict]
    quick: bool


@dataclass
class Quote:
    doc: str
    template: str
    sources: tuple[str, ...] = ()


@dataclass
class Block:
    doc: str
    name: str
    source: str
    render: Callable[[dict], str]
    start: str = ""
    end: str = ""

    def __post_init__(self):
        self.start = self.start or f"<!-- nmc:{self.name} -->"
        self.end = self.end or f"<!-- /nmc:{self.name} -->"


SOURCES: dict[str, Source] = {}
QUOTES: list[Quote] = []
BLOCKS: list[Block] = []


def source(name: str, quick: bool = False):
    """Decorator: register fn() -> dict of values under `name`. The function is memoised
    (functools.cache), so one source may build on another's values without running it twice."""
    def deco(fn):
        fn = functools.cache(fn)
        if name in SOURCES and SOURCES[name].fn is not fn:
            raise ValueError(f"docs check source {name!r} registered twice")
        SOURCES[name] = Source(name, fn, quick)
        return fn
    return deco


def _fields(template: str):
    """(literal, field_name, spec) triples of a template (field_name None after the last)."""
    return [(lit, name, spec or "") for lit, name, spec, _ in string.Formatter().parse(template)]


def quote(doc: str, template: str) -> Quote:
    """Register a phrase of `doc` (path from the repository root) with {source.key:spec} fields."""
    parts = _fields(template)
    names = [n for _, n, _ in parts if n is not None]
    if not names:
        raise ValueError(f"quote without a field: {template!r}")
    if parts[-1][1] is not None or not parts[-1][0].strip():
        raise ValueError(f"a quote must end with literal text, not a field: {template!r}")
    q = Quote(doc, template, tuple(dict.fromkeys(n.split(".", 1)[0] for n in names)))
    QUOTES.append(q)
    return q


def quotes(doc: str, *templates: str) -> None:
    for t in templates:
        quote(doc, t)


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table from a header and rows of cells (already formatted strings)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def banded(v, lo, hi, spec: str = ".3S") -> str:
    """'161 (122–222)': a central value with its band (low..high) in brackets; no brackets when
    the band is missing or collapses onto the value."""
    c = fmt(v, spec)
    if _missing(lo) or _missing(hi):
        return c
    a, b = (fmt(x, spec) for x in sorted((float(lo), float(hi))))
    if a == b == c:
        return c
    return f"{c} ({a}–{b})"


def block(doc: str, name: str, source_name: str, render: Callable[[dict], str], *,
          start: str = "", end: str = "") -> Block:
    """Register a generated region of `doc` between its markers."""
    b = Block(doc, name, source_name, render, start, end)
    BLOCKS.append(b)
    return b


# ---- formatting ------------------------------------------------------------------------------

def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _group(s: str) -> str:
    """'46100.5' -> '46 100.5' (space between thousands of the integer part)."""
    sign = "-" if s.startswith("-") else ""
    s = s.lstrip("-")
    ip, _, fp = s.partition(".")
    if len(ip) > 3:
        ip = _rgroup(ip)
    return sign + ip + ("." + fp if fp else "")


def _rgroup(ip: str) -> str:
    out = []
    while len(ip) > 3:
        out.insert(0, ip[-3:])
        ip = ip[:-3]
    out.insert(0, ip)
    return " ".join(out)


def _sig(v: float, n: int) -> str:
    """v to n significant digits, no exponent, trailing zeros dropped."""
    if v == 0:
        return "0"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    e = math.floor(math.log10(abs(v)))
    r = round(v, n - 1 - e)
    if r != 0 and math.floor(math.log10(abs(r))) > e:       # 9.96 -> 10.0 at 2 digits
        e += 1
        r = round(v, n - 1 - e)
    dec = max(n - 1 - e, 0)
    s = f"{r:.{dec}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def fmt(v, spec: str = "") -> str:
    """A value as the docs show it (module docstring: S, R, E, P and Python's specs)."""
    if _missing(v):
        return "–"
    if isinstance(v, (bool, str)) or not spec:
        if isinstance(v, float) and not spec:
            return _sig(v, 3)
        return str(v) if not isinstance(v, bool) else ("yes" if v else "no")
    m = re.fullmatch(r"\.(\d+)([SREP])", spec)
    if m:
        n, kind = int(m.group(1)), m.group(2)
        v = float(v)
        if kind == "S":
            return _group(_sig(v, n))
        if kind == "R":
            return _sig(v, n)
        if kind == "P":
            return f"{100 * v:.{n}f}"
        s = f"{v:.{max(n - 1, 0)}e}"
        mant, ex = s.split("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        ex = int(ex)
        return mant if ex == 0 else f"{mant}e{ex}"
    return format(v, spec)


def resolve(values: dict[str, dict], name: str):
    """The value of 'source.key[.sub...]' (dict keys, or list indices)."""
    src, _, path = name.partition(".")
    if src not in values:
        raise KeyError(f"unknown source {src!r}")
    v = values[src]
    for part in path.split(".") if path else []:
        if isinstance(v, dict):
            if part not in v:
                raise KeyError(f"{src}: no value {path!r} (missing {part!r})")
            v = v[part]
        elif isinstance(v, (list, tuple)):
            v = v[int(part)]
        else:
            raise KeyError(f"{src}: cannot index {part!r} in {path!r}")
    return v


# ---- locating quotes -------------------------------------------------------------------------

NUM_FIELD = r"(?:[-−]?\d+(?: \d{3})*(?:\.\d+)?(?:e-?\d+)?|[^\s|]+?(?: \d{3})*)"
TEXT_FIELD = r".+?"


def _lit(text: str) -> str:
    """Regex of literal text: any whitespace run matches any whitespace run."""
    out = []
    for tok in re.split(r"(\s+)", text):
        if not tok:
            continue
        out.append(r"\s+" if tok.isspace() else re.escape(tok))
    return "".join(out)


def quote_regex(template: str, kinds: list[bool]) -> re.Pattern:
    """kinds[i]: field i is text (may hold spaces) rather than a number-like token."""
    rx, i = [], 0
    for lit, name, _ in _fields(template):
        rx.append(_lit(lit))
        if name is not None:
            rx.append(f"(?P<f{i}>{TEXT_FIELD if kinds[i] else NUM_FIELD})")
            i += 1
    return re.compile("".join(rx))


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


NUMBER = re.compile(r"(?<![\w.\-])[-−]?\d[\d.]*(?: \d{3})*(?:e-?\d+)?(?![\w\-])")


def count_numbers(text: str) -> int:
    """Numbers in a generated region (tokens like 46 100, 0.15, 1.2e8; not the digits inside
    names such as llama-3-8b or h100-sxm)."""
    return len(NUMBER.findall(text))


# ---- the check -------------------------------------------------------------------------------

@dataclass
class CheckResult:
    differences: list[str] = field(default_factory=list)
    numbers: int = 0          # numbers compared
    quotes: int = 0
    blocks: int = 0
    sources: dict[str, float] = field(default_factory=dict)   # name -> seconds
    seconds: float = 0.0
    written: list[str] = field(default_factory=list)          # docs rewritten (write=True)

    @property
    def ok(self) -> bool:
        return not self.differences


def load_all() -> None:
    """Import every registration module of this package (each registers on import)."""
    for m in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{m.name}")


def repo_root() -> Path:
    root = Path(__file__).resolve().parents[3]
    if not (root / "docs").is_dir():
        raise ConfigError("nmc report --check reads the docs of a source checkout (docs/ beside "
                          "nmc/); pass --root DIR")
    return root


def selected(quick: bool, only: str | None):
    """The quotes and blocks to check (quick: all their sources quick; only: a source name
    substring)."""
    def keep(srcs):
        if any(s not in SOURCES for s in srcs):
            return True                     # reported as an unknown source
        if quick and not all(SOURCES[s].quick for s in srcs):
            return False
        return only is None or any(only in s for s in srcs)
    return ([q for q in QUOTES if keep(q.sources)], [b for b in BLOCKS if keep((b.source,))])


def check(root=None, quick: bool = False, only: str | None = None, write: bool = False,
          log=None) -> CheckResult:
    """Compare (or, write=True, rewrite) every registered number of the docs under root."""
    load_all()
    root = Path(root) if root is not None else repo_root()
    t0 = time.perf_counter()
    res = CheckResult()
    qs, bs = selected(quick, only)
    need = list(dict.fromkeys([s for q in qs for s in q.sources] + [b.source for b in bs]))
    values: dict[str, dict] = {}
    for name in need:
        if name not in SOURCES:
            res.differences.append(f"unknown source {name!r}")
            continue
        t = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()):      # the studies say what they do
                values[name] = SOURCES[name].fn()
        except Exception as e:  # noqa: BLE001  (a failing source is a difference, not a crash)
            res.differences.append(f"source {name}: failed: {type(e).__name__}: {e}")
        res.sources[name] = time.perf_counter() - t
        if log:
            log(f"  source {name}: {res.sources[name]:.1f} s")
    texts: dict[str, str] = {}
    edits: dict[str, list[tuple[int, int, str]]] = {}

    def doc_text(doc):
        if doc not in texts:
            p = root / doc
            texts[doc] = p.read_text() if p.exists() else None
        return texts[doc]

    for q in qs:
        if any(s not in values for s in q.sources):
            continue
        text = doc_text(q.doc)
        if text is None:
            res.differences.append(f"{q.doc}: no such file")
            continue
        names = [(n, spec) for _, n, spec in _fields(q.template) if n is not None]
        try:
            vals = [resolve(values, n) for n, _ in names]
        except (KeyError, IndexError, ValueError) as e:
            res.differences.append(f"{q.doc}: {e} (in {q.template!r})")
            continue
        want = [fmt(v, spec) for v, (_, spec) in zip(vals, names)]
        kinds = [isinstance(v, str) and " " in v or (isinstance(v, str) and not spec)
                 for v, (_, spec) in zip(vals, names)]
        rx = quote_regex(q.template, kinds)
        found = list(rx.finditer(text))
        res.quotes += 1
        res.numbers += sum(1 for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool))
        if not found:
            res.differences.append(f"{q.doc}: phrase not found: {_render(q.template, want)!r}"
                                   + _near(text, q.template))
            continue
        for m in found:
            for i, ((n, _), w) in enumerate(zip(names, want)):
                got = m.group(f"f{i}")
                if got != w:
                    if write:
                        edits.setdefault(q.doc, []).append((m.start(f"f{i}"), m.end(f"f{i}"), w))
                    else:
                        res.differences.append(f"{q.doc}:{_line(text, m.start(f'f{i}'))}: {n}: "
                                               f"doc '{got}', code '{w}'")
    for b in bs:
        if b.source not in values:
            continue
        text = doc_text(b.doc)
        if text is None:
            res.differences.append(f"{b.doc}: no such file")
            continue
        try:
            body = b.render(values[b.source]).strip("\n")
        except Exception as e:  # noqa: BLE001  (reported as a difference)
            res.differences.append(f"{b.doc}: block {b.name}: render failed: {type(e).__name__}: {e}")
            continue
        res.blocks += 1
        res.numbers += count_numbers(body)
        i = text.find(b.start)
        j = text.find(b.end, i + len(b.start)) if i >= 0 else -1
        if i < 0 or j < 0:
            res.differences.append(f"{b.doc}: markers {b.start} ... {b.end} not found")
            continue
        a0 = i + len(b.start)
        have = text[a0:j].strip("\n")
        if have != body:
            if write:
                edits.setdefault(b.doc, []).append((a0, j, "\n" + body + "\n"))
            else:
                diff = [ln for ln in difflib.unified_diff(have.splitlines(), body.splitlines(),
                                                          "doc", "code", n=0, lineterm="")
                        if ln[:1] in "+-" and not ln.startswith(("---", "+++"))]
                res.differences.append(f"{b.doc}:{_line(text, a0) + 1}: block {b.name} differs "
                                       f"({len(diff)} lines):\n    " + "\n    ".join(diff[:12])
                                       + ("\n    ..." if len(diff) > 12 else ""))
    if write:
        for doc, ed in edits.items():
            text = texts[doc]
            for s, e, w in sorted(set(ed), reverse=True):
                text = text[:s] + w + text[e:]
            (root / doc).write_text(text)
            res.written.append(doc)
    res.seconds = time.perf_counter() - t0
    return res


def _render(template: str, want: list[str]) -> str:
    out, i = [], 0
    for lit, name, _ in _fields(template):
        out.append(lit)
        if name is not None:
            out.append(want[i])
            i += 1
    return " ".join("".join(out).split())


def _near(text: str, template: str) -> str:
    """The doc line holding the longest literal piece of the template, to help find the drift."""
    lits = sorted((lit.strip() for lit, _, _ in _fields(template) if lit.strip()), key=len,
                  reverse=True)
    for lit in lits:
        k = re.search(_lit(lit), text)
        if k:
            n = _line(text, k.start())
            return f"\n    near line {n}: {text.splitlines()[n - 1].strip()[:160]!r}"
    return ""


# ---- writing a doc from a template -----------------------------------------------------------

FIELD = re.compile(r"\{([a-z_][a-z_0-9]*\.[^{}:\s]+(?::[^{}\s]*)?)\}")


def from_template(template: str, doc: str, values: dict[str, dict]) -> tuple[str, list[str]]:
    """Help for registering a doc's prose: `template` is the doc's text with
    {source.key:spec} fields where its numbers go (`values`: the sources' dicts). Returns the
    doc text with the values filled in and the phrases to register with quotes(doc, ...): each
    field (or run of fields a few words apart) with the words around it, widened until the
    phrase occurs exactly once in the filled doc. Tables are better registered as blocks."""
    fields = [(m.start(), m.end(), m.group(1)) for m in FIELD.finditer(template)]
    out, pos = [], 0
    for a, b, body in fields:
        name, _, spec = body.partition(":")
        out.extend([template[pos:a], fmt(resolve(values, name), spec)])
        pos = b
    text = "".join(out) + template[pos:]
    paras = [(m.start(), m.end()) for m in re.finditer(r"(?:[^\n]+\n?)+", template)]

    def para(i):
        return next(p for p in paras if p[0] <= i < p[1])
    clusters: list[list] = []
    for f in fields:
        if clusters and para(clusters[-1][-1][0]) == para(f[0]) \
                and len(template[clusters[-1][-1][1]:f[0]].split()) < 6:
            clusters[-1].append(f)
        else:
            clusters.append([f])
    phrases = []
    for cl in clusters:
        p0, p1 = para(cl[0][0])
        before = re.findall(r"\S+\s*", template[p0:cl[0][0]])
        after = re.findall(r"\s*\S+", template[cl[-1][1]:p1])
        ph = None
        for nb, na in ((4, 3), (6, 5), (9, 8), (14, 12), (40, 40)):
            cand = " ".join(("".join(before[-nb:]) + template[cl[0][0]:cl[-1][1]]
                             + "".join(after[:na])).split())
            if not after:
                break
            names = [(n, sp) for _, n, sp in _fields(cand) if n is not None]
            vals = [resolve(values, n) for n, _ in names]
            kinds = [isinstance(v, str) and (" " in v or not sp) for v, (_, sp) in zip(vals, names)]
            ph = cand
            if len(quote_regex(cand, kinds).findall(text)) == 1:
                break
        if ph is None:
            raise ValueError(f"a field ends its paragraph: {template[cl[0][0]:cl[-1][1]]!r}")
        phrases.append(ph)
    return text, phrases

