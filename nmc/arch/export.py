"""Export-control metrics of a device and the US rules on AI accelerators evaluated for it
(docs/policy.md). The rules themselves are data in nmc.arch.export_rules, with their sources.

TPP (total processing performance) = 2 x MacTOPS x bit length of the operation, the maximum
over the precisions the device supports, dense. Since a dense peak in TFLOP/s counts 2 FLOP per
MAC, TPP = peak_TFLOPS x bit length. Performance density PD = TPP / die area (mm2).

    classify(arch)            the Oct 2023 3A090 class (the classification of earlier releases)
    metrics(arch)             TPP, PD, I/O, memory bandwidth, HBM stack density
    evaluate(arch)            every rule: status, paragraph, margin to each threshold, and the
                              rule the part was designed around
    policy_report(parts)      evaluate() for several parts plus the rules (`nmc policy --format json`)
    policy_table(parts)       the Markdown table of parts x rules of docs/policy.md

Margins: margin = value / threshold - 1 (negative: under the line; -0.0133 = 1.33 % under).

Sources of the metric definitions: 15 CFR 774 Supp. 1, ECCN 3A090 and its technical notes as
amended by 88 FR 73458 (25 Oct 2023); see nmc.arch.export_rules for each rule."""
from __future__ import annotations

import re

from .export_rules import BY_KEY, HBM_STACKS, METRICS, OCT_2023, POLICY_PARTS, RULES, US_VENDORS, Rule
from .loader import Architecture, load_arch

# (peak parameter, bit length)
PRECISIONS = (("peak_fp32", 32), ("peak_bf16", 16), ("peak_fp16", 16), ("peak_fp8", 8),
              ("peak_int8", 8), ("peak_int4", 4))

THRESHOLDS = {
    "3A090.a": "TPP >= 4800, or TPP >= 1600 and PD >= 5.92",
    "3A090.b": "TPP >= 2400 and < 4800 with PD >= 1.6 and < 5.92, or TPP >= 1600 with PD >= 3.2 and < 5.92",
}
SOURCE = ("BIS interim final rule, 88 FR 73458 (25 Oct 2023), ECCN 3A090 and its technical notes "
          "(TPP = 2 x MacTOPS x bit length; PD = TPP / applicable die area)")


def _arch(arch) -> Architecture:
    return arch if isinstance(arch, Architecture) else load_arch(arch)


def tpp(arch) -> tuple[float, str]:
    """(TPP, the precision that sets it)."""
    a = _arch(arch)
    best, which = 0.0, ""
    for key, bits in PRECISIONS:
        v = a[key] / 1e12 * bits
        if v > best:
            best, which = v, key.replace("peak_", "")
    return best, which


def performance_density(arch) -> float | None:
    a = _arch(arch)
    area = a["die_area"]
    return tpp(a)[0] / area if area > 0 else None


def classify_values(t: float, pd: float | None) -> str:
    """The Oct 2023 3A090 paragraph a (TPP, PD) pair falls under (PD None: unknown die area)."""
    if t >= 4800:
        return "3A090.a"
    if pd is None:
        return "unknown (die area not known)" if t >= 1600 else "not controlled"
    if t >= 1600 and pd >= 5.92:
        return "3A090.a"
    if (2400 <= t < 4800 and 1.6 <= pd < 5.92) or (t >= 1600 and 3.2 <= pd < 5.92):
        return "3A090.b"
    return "not controlled"


def classify(arch) -> dict:
    a = _arch(arch)
    t, which = tpp(a)
    pd = performance_density(a)
    return {"arch": a.name, "tpp": t, "tpp_precision": which, "die_area_mm2": a["die_area"] or None,
            "performance_density": pd, "class": classify_values(t, pd), "rule": SOURCE}


# ---- the rules of nmc.arch.export_rules ---------------------------------------------------------
def hbm_generation(mem_type: str) -> str | None:
    """"HBM3" for "HBM3", "HBM3-PIM", ...; "HBM2E" for "HBM2e"; None without HBM."""
    m = re.search(r"HBM\s*(\d)\s*([eE])?", mem_type or "")
    if not m:
        return None
    gen = f"HBM{m.group(1)}{'E' if m.group(2) else ''}"
    return gen if gen in HBM_STACKS else None


def metrics(arch, host_io_gbs: float = 0.0) -> dict:
    """The quantities the rules test (units: METRICS). io_bw = 2 x link_bw (the scale-up link,
    both directions) + host_io_gbs (the PCIe host link, bidirectional, when the caller adds it)."""
    a = _arch(arch)
    t, which = tpp(a)
    area = a["die_area"]
    mem_type = a.text.get("mem_type", "")
    gen = hbm_generation(mem_type)
    return {"tpp": t, "tpp_precision": which, "die_area_mm2": area if area > 0 else None,
            "pd": t / area if area > 0 else None,
            "io_bw": 2 * a["link_bw"] / 1e9 + float(host_io_gbs),
            "mem_bw": a["mem_bw"] / 1e9, "mem_type": mem_type, "hbm_generation": gen,
            "hbm_density": (HBM_STACKS[gen]["bw_gbs"] / HBM_STACKS[gen]["area_mm2"]) if gen else None}


def _unknown_reason(metric: str, m: dict) -> str:
    if metric == "pd":
        return "performance density: die area unknown (die_area = 0 in the preset)"
    if metric == "hbm_density":
        return f"HBM stack density: no HBM ({m.get('mem_type') or 'memory type not given'})"
    return f"{metric}: unknown"


def _margins(rule: Rule, m: dict) -> list[dict]:
    in_paragraph = {tid for p in rule.paragraphs for tid in p.thresholds}
    out = []
    for t in rule.thresholds:
        x = m.get(t.metric)
        row = {"threshold": t.id, "line": t.text(), "label": t.label, "metric": t.metric, "op": t.op,
               "limit": t.value, "unit": METRICS[t.metric][0], "value": x, "margin": None,
               "margin_pct": None, "meets": None, "side": None,
               "reference": t.id not in in_paragraph}
        if x is not None:
            mg = x / t.value - 1.0
            row.update(margin=mg, margin_pct=100.0 * mg, meets=t.meets(x),
                       side="under" if x < t.value else ("at" if x == t.value else "over"))
        out.append(row)
    return out


def _paragraph_state(rule: Rule, para, margins: dict) -> bool | None:
    """True / False, or None when it depends on an unknown metric."""
    states = [margins[tid]["meets"] for tid in para.thresholds]
    if any(s is False for s in states):
        return False
    return None if any(s is None for s in states) else True


def _nearest_line(rule: Rule, margins: dict) -> dict | None:
    """The line the part would have to cross to be caught, nearest first: for each paragraph not
    met, the farthest of its unmet lower-bound lines (all must be crossed); then the nearest
    paragraph. None when no paragraph can be reached by growing a metric."""
    best = None
    for p in rule.paragraphs:
        rows = [margins[tid] for tid in p.thresholds]
        if any(r["meets"] is None for r in rows):
            continue
        unmet = [r for r in rows if not r["meets"]]
        if not unmet or any(r["op"] == "<" for r in unmet):
            continue
        far = max(unmet, key=lambda r: abs(r["margin"]))
        if best is None or abs(far["margin"]) < abs(best["margin"]):
            best = {"paragraph": p.id, "threshold": far["threshold"], "line": far["line"],
                    "value": far["value"], "limit": far["limit"], "margin": far["margin"],
                    "margin_pct": far["margin_pct"], "also": [r["threshold"] for r in unmet if r is not far]}
    return best


def evaluate_rule(rule: Rule | str, m: dict, name: str = "", licensed: bool | None = None) -> dict:
    """One rule for one part's metrics (metrics()). `licensed`: whether the part needs a licence
    under the control rules (used by the Jan 2026 review policy only).

    Returns {"rule", "name", "year", "kind", "citation", "confidence", "controlled", "outcome",
    "status", "paragraph", "margins": [...], "nearest_line", "not_evaluable": [...], "note"}.
    controlled: the part is caught by the rule (for the review policy: it needs a licence at all);
    None when it depends on an unknown metric."""
    rule = BY_KEY[rule] if isinstance(rule, str) else rule
    rows = _margins(rule, m)
    by_id = {r["threshold"]: r for r in rows}
    unknown = sorted({_unknown_reason(r["metric"], m) for r in rows if r["value"] is None})
    out = {"rule": rule.key, "name": rule.name, "year": rule.year, "kind": rule.kind,
           "citation": rule.citation, "confidence": rule.confidence, "controlled": False,
           "outcome": "not controlled", "status": "", "paragraph": None, "margins": rows,
           "nearest_line": None, "not_evaluable": unknown, "note": rule.note}

    if rule.scope == "hbm":
        gen = m.get("hbm_generation")
        if gen is None:
            out.update(outcome="not applicable",
                       status=f"not applicable: no HBM ({m.get('mem_type') or 'memory type not given'})")
            return out
        stack = next(p for p in rule.paragraphs)
        caught = _paragraph_state(rule, stack, by_id)
        out.update(outcome="not applicable", paragraph=None, stack_generation=gen,
                   stack_outcome=stack.outcome if caught else "not controlled",
                   status=(f"not applicable: HBM co-packaged with the logic die is excluded; one "
                           f"{gen} stack alone ({m['hbm_density']:.2f} GB/s/mm2) would be "
                           + (stack.outcome if caught else "not controlled")))
        return out

    states = [(p, _paragraph_state(rule, p, by_id)) for p in rule.paragraphs]
    met = next((p for p, s in states if s is True), None)
    named = rule.named.get(name)
    if named:
        out.update(controlled=True, outcome=rule.paragraphs[0].outcome, paragraph="named",
                   status=f"{rule.paragraphs[0].outcome}: {named}")
    elif met is not None:
        out.update(controlled=True, outcome=met.outcome, paragraph=met.id,
                   status=f"{met.outcome} ({met.id})" if met.id != met.outcome else met.outcome)
    elif any(s is None for _, s in states):
        out.update(controlled=None, outcome="not evaluable",
                   status="not evaluable: " + "; ".join(unknown))
    else:
        out["status"] = "not controlled"
        out["nearest_line"] = _nearest_line(rule, by_id)

    if rule.scope == "licensed":
        if licensed is None:
            out.update(controlled=None, outcome="not evaluable",
                       status="not evaluable: whether the part needs a licence is unknown")
        elif not licensed:
            out.update(controlled=False, outcome="not applicable", paragraph=None, nearest_line=None,
                       status="not applicable: no licence required")
        else:
            zone = met is not None
            out.update(controlled=True, nearest_line=None,
                       outcome="case-by-case review" if zone else "presumption of denial",
                       paragraph=met.id if zone else None,
                       status=("case-by-case review (inside TPP < 21,000 and DRAM < 6,500 GB/s)"
                               if zone else "presumption of denial (outside the case-by-case zone)"))
    return out


def _needs_licence(results: list[dict]) -> bool | None:
    ctl = [r["controlled"] for r in results
           if r["rule"] in ("2023-10", "2024-12", "2025-04")]
    if any(c is True for c in ctl):
        return True
    return None if any(c is None for c in ctl) else False


DESIGN_NEAR = 0.5      # a part more than 50 % under every line it escapes was designed around none


def designed_around(arch, results: list[dict] | None = None) -> dict:
    """The rule a part was designed around: among the control rules in force in the part's
    launch year (rule year <= preset `year`) that the part escapes, the line it sits nearest
    under (nearest_line), if within DESIGN_NEAR (50 %) of it. Only for parts of US vendors
    (US_VENDORS); others get rule = None and the nearest line as information."""
    a = _arch(arch)
    results = results if results is not None else evaluate(a)["rules"]
    year = a.meta.get("year")
    vendor = str(a.meta.get("vendor", ""))
    us = any(vendor.startswith(v) for v in US_VENDORS)
    if not isinstance(year, int):
        return {"rule": None, "reason": "launch year unknown (no `year` in the preset)"}
    in_force = [r for r in results if r["kind"] in ("control", "licence requirement") and r["year"] <= year]
    if not in_force:
        return {"rule": None, "reason": f"launched ({year}) before the first rule (Oct 2022)"}
    cands = [r for r in in_force if r["controlled"] is False and r["nearest_line"] is not None]
    if not cands:
        return {"rule": None, "reason": f"controlled under every rule in force at its launch ({year})"}
    r = min(cands, key=lambda r: abs(r["nearest_line"]["margin"]))
    nl = r["nearest_line"]
    if abs(nl["margin"]) > DESIGN_NEAR:
        return {"rule": None, "reason": (f"far under every line in force at its launch: nearest "
                                         f"{nl['line']} of {r['name']}, "
                                         f"{abs(nl['margin_pct']):.0f} % under")}
    d = {"rule": r["rule"], "name": r["name"], "paragraph": nl["paragraph"],
         "threshold": nl["threshold"], "line": nl["line"], "value": nl["value"], "limit": nl["limit"],
         "margin": nl["margin"], "margin_pct": nl["margin_pct"],
         "reason": f"sits {abs(nl['margin_pct']):.1f} % under {nl['line']} ({nl['paragraph']})"}
    if not us:
        d = {"rule": None, "nearest": d,
             "reason": (f"not a US design ({vendor}): no design-around reading; the nearest line "
                        f"it sits under at launch is {nl['line']} of {r['name']} "
                        f"({abs(nl['margin_pct']):.1f} % under)")}
    return d


def _inputs(a: Architecture) -> dict:
    _t, which = tpp(a)
    keys = ["peak_" + which, "die_area", "link_bw", "mem_bw"]
    return {k: {"value": a[k], "ref": a.sources.get(k, {}).get("ref"),
                "confidence": a.sources.get(k, {}).get("confidence")} for k in keys}


def evaluate(arch, host_io_gbs: float = 0.0) -> dict:
    """Every rule of nmc.arch.export_rules for one preset: {"arch", "vendor", "year", "metrics",
    "inputs" (the preset values the metrics use, with their sources), "rules": [evaluate_rule
    ...], "designed_around": {...}}."""
    a = _arch(arch)
    m = metrics(a, host_io_gbs)
    results = []
    for rule in RULES:
        lic = _needs_licence(results) if rule.scope == "licensed" else None
        res = evaluate_rule(rule, m, a.name, licensed=lic)
        prior = next((r for r in results if r["rule"] == OCT_2023.key), None)
        if rule.kind == "licence requirement" and res["controlled"] and prior and prior["controlled"]:
            res["status"] += f"; already controlled under {prior['name']}"
        results.append(res)
    return {"arch": a.name, "vendor": a.meta.get("vendor"), "year": a.meta.get("year"),
            "metrics": m, "inputs": _inputs(a), "rules": results,
            "designed_around": designed_around(a, results)}


def rule_definitions() -> list[dict]:
    return [{"rule": r.key, "name": r.name, "year": r.year, "effective": r.effective, "kind": r.kind,
             "citation": r.citation, "sources": list(r.sources), "confidence": r.confidence,
             "thresholds": [{"threshold": t.id, "line": t.text(), "label": t.label, "metric": t.metric,
                             "op": t.op, "limit": t.value, "unit": METRICS[t.metric][0]}
                            for t in r.thresholds],
             "paragraphs": [{"paragraph": p.id, "thresholds": list(p.thresholds), "outcome": p.outcome}
                            for p in r.paragraphs],
             "named": dict(r.named), "not_modelled": list(r.not_modelled), "note": r.note}
            for r in RULES]


def policy_report(parts=POLICY_PARTS, host_io_gbs: float = 0.0) -> dict:
    """{"rules": rule_definitions(), "parts": [evaluate(p) ...], "hbm_stacks": HBM_STACKS,
    "margin": how margins are defined}. The JSON of `nmc policy --format json`."""
    return {"margin": "value / limit - 1 (negative: under the line)",
            "rules": rule_definitions(),
            "parts": [evaluate(p, host_io_gbs) for p in parts],
            "hbm_stacks": {g: dict(s, density_gbs_mm2=s["bw_gbs"] / s["area_mm2"])
                           for g, s in HBM_STACKS.items()}}


# ---- tables ---------------------------------------------------------------------------------------
SHORT = {"tpp": "TPP", "pd": "PD", "io_bw": "I/O", "mem_bw": "mem BW", "hbm_density": "stack density"}


def _fmt_line(r: dict) -> str:
    """'TPP 1.3 % under 2400' / 'I/O at 600' / 'TPP 230 % over 4800'."""
    name, lim = SHORT[r["metric"]], f"{r['limit']:g}"
    if r["margin"] is None:
        return f"{name} unknown"
    if r["side"] == "at":
        return f"{name} at {lim}"
    return f"{name} {abs(r['margin_pct']):.{1 if abs(r['margin_pct']) < 10 else 0}f} % {r['side']} {lim}"


def _cell(res: dict) -> str:
    by_id = {r["threshold"]: r for r in res["margins"]}
    rule = BY_KEY[res["rule"]]
    if res["outcome"] == "not applicable" and "stack_outcome" in res:
        r = by_id["density2"]
        return (f"n/a (co-packaged); {res['stack_generation']} stack {res['stack_outcome']}, "
                f"{_fmt_line(r)}")
    if res["outcome"] == "not applicable":
        return "n/a" + (" (no HBM)" if rule.scope == "hbm" else " (no licence needed)")
    if res["outcome"] == "not evaluable":
        return "not evaluable (" + "; ".join(res["not_evaluable"]) + ")"
    if res["paragraph"] == "named":
        extra = [by_id[t] for p in rule.paragraphs for t in p.thresholds]
        return f"{res['outcome']} (named); " + ", ".join(_fmt_line(r) for r in extra)
    if res["controlled"]:
        if res["paragraph"] is None:       # presumption of denial: show the lines it is over
            return res["outcome"] + "; " + ", ".join(_fmt_line(r) for r in res["margins"] if not r["meets"])
        p = next(p for p in rule.paragraphs if p.id == res["paragraph"])
        lines = ", ".join(_fmt_line(by_id[t]) for t in p.thresholds)
        label = (p.id if p.id.startswith(res["outcome"]) else res["outcome"] if "zone" in p.id
                 else f"{res['outcome']} ({p.id})")
        return f"{label}; {lines}"
    nl = res["nearest_line"]
    if nl is None:
        return res["outcome"]
    lines = [by_id[nl["threshold"]]] + [by_id[t] for t in nl["also"]]
    return f"not controlled; {', '.join(_fmt_line(r) for r in lines)}"


def policy_table(parts=POLICY_PARTS, kind: str = "summary", host_io_gbs: float = 0.0) -> str:
    """The Markdown table of docs/policy.md. kind="summary": one row per part, one column per
    rule (status and the deciding margins) and the design-around reading; kind="margins": one
    row per part, rule and threshold."""
    rep = [evaluate(p, host_io_gbs) for p in parts]
    if kind == "summary":
        head = ["part", "TPP", "PD", "I/O GB/s", "mem GB/s"] + [_short_name(r) for r in RULES] + ["designed around"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for e in rep:
            m = e["metrics"]
            da = e["designed_around"]
            dtxt = (f"{_short_name(BY_KEY[da['rule']])} {SHORT[_metric(da)]} line "
                    f"({abs(da['margin_pct']):.1f} % under {da['limit']:g})") if da["rule"] else \
                ("– (" + _short_reason(da) + ")")
            cells = [e["arch"], f"{m['tpp']:.0f}", f"{m['pd']:.2f}" if m["pd"] else "–",
                     f"{m['io_bw']:.0f}", f"{m['mem_bw']:.0f}"] + [_cell(r) for r in e["rules"]] + [dtxt]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    if kind == "margins":
        head = ["part", "rule", "status", "threshold", "value", "margin"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for e in rep:
            for r in e["rules"]:
                for t in r["margins"]:
                    v = "–" if t["value"] is None else f"{t['value']:.4g}"
                    mg = "–" if t["margin"] is None else f"{t['margin_pct']:+.1f} %"
                    lines.append(f"| {e['arch']} | {_short_name(BY_KEY[r['rule']])} | {r['outcome']} | "
                                 f"{t['line']}{' (ref.)' if t['reference'] else ''} | {v} | {mg} |")
        return "\n".join(lines)
    raise ValueError(f"kind must be 'summary' or 'margins', got {kind!r}")


def _short_name(rule: Rule) -> str:
    return rule.name.split(":")[0]


def _metric(da: dict) -> str:
    return BY_KEY[da["rule"]].threshold(da["threshold"]).metric


def _short_reason(da: dict) -> str:
    if "nearest" in da:
        n = da["nearest"]
        return (f"not a US design; nearest: {_short_name(BY_KEY[n['rule']])} "
                f"{SHORT[_metric(n)]} {abs(n['margin_pct']):.1f} % under {n['limit']:g}")
    return da["reason"]


__all__ = [
    "OCT_2023",
    "POLICY_PARTS",
    "PRECISIONS",
    "RULES",
    "SOURCE",
    "THRESHOLDS",
    "classify",
    "classify_values",
    "designed_around",
    "evaluate",
    "evaluate_rule",
    "hbm_generation",
    "metrics",
    "performance_density",
    "policy_report",
    "policy_table",
    "rule_definitions",
    "tpp",
]
