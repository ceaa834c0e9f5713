"""Plain-text tables and CSV/JSON writers for CLI output (no pandas needed).

Text tables are for people: numbers in engineering units with three significant figures
(14.6 ms, 652 µs, 3.35 TB/s, 989 TFLOP/s, 80 GiB), one line of the columns that are the same in
every row above the table instead of a column each, and at most 120 characters wide (long text
is cut with "…", then the least important columns are left out, with a note naming them);
`wide=True` (the CLI's --wide) prints every column in full. CSV and JSON keep the raw numbers
of the rows, never rounded."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

from ..units import eng, fmt_bytes, pct, sig  # noqa: F401  (re-exported)

WIDTH = 120


def fmt_num(x, digits=4) -> str:
    """A value as a short string (the explore page's cells): 4 significant digits."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if math.isinf(x):
            return "inf"
        if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
            return f"{x:.{digits - 1}e}"
        return f"{x:.{digits}g}"
    return str(x)


# -- columns ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """How a column prints in a text table: header, value kind, the SI factor of the value in
    the row (latency_ms: 1e-3 s), and how readily it is left out of a narrow table (higher:
    sooner; 0: never)."""
    header: str
    kind: str = "num"        # num | int | time | bytes | bw | flops | flop | energy | power | pct
    scale: float = 1.0       # | count | text | bool
    drop: int = 0


COLS: dict[str, Col] = {
    # summary rows of analyze / compare (report.summary)
    "latency_ms": Col("latency", "time", 1e-3), "tokens_per_s": Col("tokens/s"),
    "ttft_ms": Col("TTFT", "time", 1e-3, 3), "tpot_ms": Col("TPOT", "time", 1e-3, 3),
    "energy_per_token_mj": Col("energy/token", "energy", 1e-3, 4),
    "memory_gb": Col("mem/device", "bytes", 1e9), "max_batch": Col("max batch", "int", drop=2),
    "compute": Col("comp%", "pct", drop=5), "memory": Col("mem%", "pct", drop=5),
    "latency": Col("lat%", "pct", drop=5), "comm": Col("comm%", "pct", drop=5),
    "pim_share": Col("PIM%", "pct"), "aimc_resident": Col("resident", "pct"),
    "aimc_reprog_ms_per_token": Col("reprogram/token", "time", 1e-3),
    # per-operator rows (analyze)
    "GFLOP": Col("FLOPs", "flop", 1e9), "MB": Col("DRAM", "bytes", 1e6),
    "time_us": Col("time", "time", 1e-6), "share": Col("share", "pct"),
    "intensity": Col("FLOP/B", drop=3), "count": Col("count", "count"),
    "M": Col("M", "int"), "N": Col("N", "int"), "K": Col("K", "int"),
    # list models / archs
    "params_B": Col("params", "params", 1e9), "active_B": Col("active", "params", 1e9),
    "bf16_TFLOPS": Col("BF16", "flops", 1e12), "mem_GB": Col("memory", "bytes", 1e9),
    "mem_TB_s": Col("mem bw", "bw", 1e12), "link_GB_s": Col("link bw", "bw", 1e9, 2),
    "summary": Col("summary", "text", drop=9), "doc": Col("doc", "text"),
    # training search
    "step_time_s": Col("step", "time"), "mfu": Col("MFU", "pct"), "hfu": Col("HFU", "pct"),
    "bubble": Col("bubble", "pct"), "time_to_train_days": Col("days"),
    # AIMC training step (nmc aimc train)
    "step_s": Col("step", "time"), "fwd_s": Col("fwd", "time", drop=3),
    "bwd_s": Col("bwd", "time", drop=3), "wgrad_s": Col("wgrad", "time", drop=3),
    "opt_s": Col("opt", "time", drop=3), "update_s": Col("update", "time"),
    "update_share": Col("update%", "pct"), "J_per_token": Col("energy/token", "energy"),
    "lifetime_steps": Col("lifetime", "count"), "chips_needed": Col("chips", "int"),
    "tokens_per_s_per_device": Col("tokens/s/device"), "memory_gb_per_device": Col(
        "mem/device", "bytes", 1e9),
}


def _kind_text(v, c: Col) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or c.kind == "bool":
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if not isinstance(v, (int, float)):
        return str(v)
    x = float(v)
    if math.isnan(x):
        return "-"
    k = c.kind
    if k == "text":
        return str(v)
    if k == "int" or (k == "num" and isinstance(v, int)):
        return str(int(x)) if x == int(x) and abs(x) < 1e15 else sig(x, 4)
    if k == "pct":
        return pct(x)
    x *= c.scale
    if k == "time":
        return eng(x, "s")
    if k == "bytes":
        return fmt_bytes(x)
    if k == "bw":
        return eng(x, "B/s", small=False)
    if k == "flops":
        return eng(x, "FLOP/s", small=False)
    if k == "flop":
        return eng(x, "FLOP", small=False)
    if k == "energy":
        return eng(x, "J")
    if k == "power":
        return eng(x, "W")
    if k == "count":
        return str(int(x)) if x == int(x) and abs(x) < 10000 else eng(x, small=False)
    if k == "params":
        for p, f in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(x) >= f:
                return f"{sig(x / f, 3)} {p}"
        return str(int(x))
    if math.isinf(x):
        return "inf"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return eng(x, small=abs(x) < 1e-3)
    return sig(x, 3) if not (x == int(x) and abs(x) < 1e5) else str(int(x))


def cell(value, column: str) -> str:
    """The text of one value of `column` (engineering units where the column has them)."""
    return _kind_text(value, COLS.get(column, Col(column)))


def wrap(text: str, width: int = WIDTH) -> str:
    """A line of prose wrapped to width, continuation lines indented two more spaces."""
    import textwrap
    lead = text[:len(text) - len(text.lstrip())]
    return textwrap.fill(text.strip(), width, initial_indent=lead,
                         subsequent_indent=lead + "  ", break_on_hyphens=False)


def _ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 1)] + "…"


def render(rows: list[dict], columns: list[str] | None = None, headers: dict | None = None,
           width: int | None = WIDTH, wide: bool = False, hoist: bool = True) -> str:
    """A text table of rows (dicts) over columns (default: the first row's keys).

    Numbers print in engineering units (COLS); with hoist, a column with one value in every
    row (of several rows) moves to a line above the table ("phase decode, tp 1"); with
    width (and not wide) the table is fitted to `width` characters: long text cut with "…",
    then columns left out by their Col.drop order, with a note naming them."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0])
    headers = dict(headers or {})
    texts = {c: [cell(r.get(c), c) for r in rows] for c in columns}
    heads = {c: headers.get(c, COLS[c].header if c in COLS else c) for c in columns}
    above = []
    if hoist and len(rows) > 1:
        for c in list(columns):
            vals = set(texts[c])
            if len(vals) == 1 and len(columns) > 2:
                v = vals.pop()
                if v not in ("-", ""):
                    above.append(f"{heads[c]} {v}")
                columns.remove(c)
    hidden: list[str] = []

    def total() -> int:
        return sum(max(len(heads[c]), *(len(t) for t in texts[c])) for c in columns) \
            + 2 * (len(columns) - 1)

    def cut_text(floor: int) -> None:
        for _ in range(200):            # the widest text column first, down to `floor`
            over = total() - width
            if over <= 0:
                return
            textual = [c for c in columns if all(not _numeric(t) for t in texts[c])]
            if not textual:
                return
            c = max(textual, key=lambda k: max(len(t) for t in texts[k]))
            cur = max(len(t) for t in texts[c])
            if cur <= floor:
                return
            new = max(floor, cur - over)
            texts[c] = [_ellipsize(t, new) for t in texts[c]]
            heads[c] = _ellipsize(heads[c], new)

    if width and not wide:
        cut_text(16)                    # 1. long text cells cut with "…"
        while total() > width:          # 2. columns left out, the readiest first
            cands = [c for c in columns if COLS.get(c, Col(c)).drop > 0]
            if not cands:
                break
            worst = max(COLS[c].drop for c in cands)
            c = [k for k in cands if COLS[k].drop == worst][-1]
            columns.remove(c)
            hidden.append(heads[c])
        cut_text(8)                     # 3. text cut further
    widths = [max(len(heads[c]), *(len(t) for t in texts[c])) for c in columns]
    out = []
    if above:
        if width and not wide:          # long values cut, the items wrapped to the width
            above = [_ellipsize(a, max(width // 2, 20)) for a in above]
            line = ""
            for a in above:
                if line and len(line) + 2 + len(a) > width:
                    out.append(line + ",")
                    line = a
                else:
                    line = f"{line}, {a}" if line else a
            out.append(line)
        else:
            out.append(", ".join(above))
    head = "  ".join(heads[c].ljust(w) for c, w in zip(columns, widths)).rstrip()
    out.append(head)
    out.append("  ".join("-" * w for w in widths))
    numeric = {c: all(_numeric(t) for t in texts[c]) for c in columns}
    for i in range(len(rows)):
        out.append("  ".join((texts[c][i].rjust(w) if numeric[c] else texts[c][i].ljust(w))
                             for c, w in zip(columns, widths)).rstrip())
    if hidden:
        out.append(f"({len(hidden)} column{'s' if len(hidden) > 1 else ''} left out to fit "
                   f"{width} characters: {', '.join(hidden)}; --wide shows all)")
    return "\n".join(out)


def _numeric(v: str) -> bool:
    """Whether a cell reads as a number (with or without a unit), for right alignment."""
    if v in ("-", "inf", "yes", "no"):
        return v in ("-", "inf")
    head = v.split(" ")[0].rstrip("%")
    try:
        float(head)
        return True
    except ValueError:
        return False


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    buf = io.StringIO()
    columns = columns or (list(rows[0]) if rows else [])
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def to_json(obj) -> str:
    def default(o):
        if hasattr(o, "item"):
            return o.item()
        raise TypeError(f"not JSON serializable: {type(o)}")

    def clean(o):
        if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o
    return json.dumps(clean(obj), indent=2, default=default)
