"""The explore page, drawn with Panel (on Bokeh) and served on 127.0.0.1 by Panel's server.

One `Explorer` per browser tab: the controls on the left set an `Inputs` (state.py); every
change re-evaluates (state.Session.evaluate: nmc.analyze on each arch + the batch x length grid
through the sweep kernel) and pushes new data into figures and tables built once, inside one
`pn.io.hold()` so the browser gets one message per change. Charts are Bokeh figures whose
ColumnDataSources are replaced, not re-created."""
from __future__ import annotations

import gc
import html
import io
import logging
import math
import signal
import tempfile
import time

import numpy as np
import panel as pn
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Legend, LegendItem, Range1d
from bokeh.palettes import Category10, Viridis256
from bokeh.plotting import figure

from ..analysis.pim import pim_roof
from ..arch.loader import load_arch
from ..arch.schema import PARAMS
from ..errors import NmcError
from ..report.tables import fmt_num
from ..workload.scenario import MAPPINGS, PHASES
from . import state as S

log = logging.getLogger("nmc.explore")

COLORS = Category10[10][:S.MAX_ARCHS]
NONE = "(none)"
SHARE_COLORS = {"compute": "#4c72b0", "memory": "#dd8452", "latency": "#55a868", "comm": "#c44e52"}
MARKERS = {"gemm": "circle", "lm_head": "diamond", "attn_score": "triangle",
           "attn_context": "inverted_triangle", "softmax": "x", "norm": "square",
           "elementwise": "plus", "embedding": "star", "comm": "hex"}
HEAT_METRICS = {"tokens/s": ("tokens_per_s", True), "latency (ms)": ("latency_ms", False),
                "energy per token (mJ)": ("energy_per_token_mj", False)}
KPI = [  # (key of the summary row, header)
    ("tokens_per_s", "tokens/s"), ("latency_ms", "latency ms"),
    ("energy_per_token_mj", "mJ/token"), ("memory_gb", "GB/device"),
    ("fits", "fits"), ("max_batch", "max batch"), ("bound", "bound")]
KPI_GENERATE = [("ttft_ms", "TTFT ms"), ("tpot_ms", "TPOT ms")]
OP_TABLE = [("arch", "arch"), ("phase", "phase"), ("name", "operator"), ("kind", "kind"),
            ("count", "count"), ("M", "M"), ("N", "N"), ("K", "K"), ("gflop", "GFLOP"),
            ("mb", "DRAM MB"), ("intensity", "FLOP/B"), ("time_us", "time (us)"),
            ("share_pct", "share %"), ("bound", "bound"), ("engine", "engine")]

OP_WIDTHS = (110, 78, 105, 95, 72, 62, 62, 62, 80, 70, 78, 70, 65, 82, 78)
TABLE_CSS = """
.tabulator, .tabulator-cell, .tabulator-col-title {font-size: 12px !important;}
.tabulator-cell {padding: 3px 6px !important;}
.tabulator-col-title {white-space: normal !important; text-overflow: clip !important;}
.tabulator-col-content {padding: 4px 18px 4px 6px !important;}
"""
CSS = """
table {border-collapse: collapse; font-size: 14px;}
th, td {padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap;}
th {background: #f2f5f9; font-weight: 600;}
th:first-child, td:first-child {text-align: left;}
.swatch {display: inline-block; width: 11px; height: 11px; margin-right: 7px; border-radius: 2px;}
.no {color: #c62828; font-weight: bold;}
.line {color: #b71c1c; font-family: monospace; font-size: 13px; margin: 2px 0;}
pre {white-space: pre-wrap; word-break: break-all; font-size: 12px; background: #f4f4f4;
     padding: 6px; margin: 0;}
"""


# Panel 1.9 renamed a widget's `name` to `label` and `button_type` to `color`; both spellings
# are accepted here so any Panel >= 1.4 works without warnings
def L(text: str) -> dict:
    return {"label" if "label" in pn.widgets.Select.param else "name": text}


PRIMARY = ({"color": "primary"} if "color" in pn.widgets.Button.param
           else {"button_type": "primary"})


def sig(x, digits: int = 4):
    """x rounded to `digits` significant digits (numbers stay numbers, so the table sorts)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def compact(v: float) -> str:
    """At most four characters for a heatmap cell: 0.52, 7.3, 154, 1.3k, 42k, 3.1M."""
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    for f, p in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= f:
            return f"{v / f:.2g}{p}" if a < 10 * f else f"{v / f:.0f}{p}"
    return f"{v:.0f}" if a >= 10 else f"{v:.2g}"


class Explorer:
    def __init__(self, root: str | None = None):
        self.session = S.Session(root)
        self.inputs = S.Inputs()
        self.result: S.Result | None = None
        self.upload_error: str | None = None
        self.generation = 0
        self._quiet = False
        self._build_controls()
        self._build_outputs()
        self.refresh()

    # ---- controls --------------------------------------------------------------------------
    def _build_controls(self):
        i = self.inputs
        self.model = pn.widgets.Select(**L("Model"), options=self.session.model_options(),
                                       value=i.model, css_classes=["nmc-model"])
        self.model_upload = pn.widgets.FileInput(accept=".json", css_classes=["nmc-model-upload"])
        archs = self.session.arch_options()
        self.archs = [pn.widgets.Select(**L(f"Architecture {k + 1}"),
                                        options=archs if k == 0 else [NONE] + archs,
                                        value=i.archs[k] if k < len(i.archs) else NONE,
                                        css_classes=["nmc-arch", f"nmc-arch-{k + 1}"])
                      for k in range(S.MAX_ARCHS)]
        self.arch_upload = pn.widgets.FileInput(accept=".toml", css_classes=["nmc-arch-upload"])
        self.phase = pn.widgets.RadioButtonGroup(**L("phase"), options=list(PHASES),
                                                 value=i.phase, css_classes=["nmc-phase"])
        self.batch = pn.widgets.EditableIntSlider(**L("batch"), start=1, end=512, value=i.batch,
                                                  fixed_start=1, css_classes=["nmc-batch"])
        self.context = pn.widgets.EditableIntSlider(
            **L("context (tokens in the KV cache)"), start=0, end=32768, step=128,
            value=i.context, fixed_start=0, css_classes=["nmc-context"])
        self.prompt = pn.widgets.EditableIntSlider(**L("prompt (tokens)"), start=1, end=32768,
                                                   value=i.prompt, fixed_start=1,
                                                   css_classes=["nmc-prompt"])
        self.generate = pn.widgets.EditableIntSlider(**L("generate (new tokens)"), start=1,
                                                     end=4096, value=i.generate, fixed_start=1,
                                                     css_classes=["nmc-generate"])
        self.tp = pn.widgets.Select(**L("tensor parallel (tp)"), options=[1, 2, 4, 8, 16],
                                    value=i.tp, css_classes=["nmc-tp"])
        self.weights = pn.widgets.Select(**L("weights"), options=list(S.DTYPES), value=i.weights,
                                         width=90, css_classes=["nmc-weights"])
        self.activations = pn.widgets.Select(**L("activations"), options=list(S.ACT_DTYPES),
                                             value=i.activations, width=90,
                                             css_classes=["nmc-activations"])
        self.kv = pn.widgets.Select(**L("KV cache"), options=list(S.DTYPES), value=i.kv, width=90,
                                    css_classes=["nmc-kv"])
        self.mapping = pn.widgets.Select(**L("PIM mapping"), options=list(MAPPINGS),
                                         value=i.mapping, css_classes=["nmc-mapping"])
        groups: dict[str, list[str]] = {}
        for p in PARAMS:
            groups.setdefault(p.section, []).append(p.name)
        self.param_pick = pn.widgets.Select(**L("What-if: preset parameter"), groups=groups,
                                            value="mem_bw", css_classes=["nmc-param-pick"])
        self.param_add = pn.widgets.Button(**L("Add slider"), **PRIMARY,
                                           css_classes=["nmc-param-add"])
        self.param_reset = pn.widgets.Button(**L("Reset all"), css_classes=["nmc-param-reset"])
        self.sliders: dict[str, tuple] = {}       # name -> (widget, row, Slider)
        self.slider_box = pn.Column(sizing_mode="stretch_width")

        for w in [self.model, *self.archs, self.phase, self.batch, self.context, self.prompt,
                  self.generate, self.tp, self.weights, self.activations, self.kv, self.mapping]:
            w.param.watch(self._changed, "value")
        self.model_upload.param.watch(lambda e: self._upload("model", self.model_upload), "value")
        self.arch_upload.param.watch(lambda e: self._upload("arch", self.arch_upload), "value")
        self.param_add.on_click(lambda e: self.add_slider(self.param_pick.value))
        self.param_reset.on_click(lambda e: self.reset_sliders())

    def add_slider(self, name: str):
        if name in self.sliders:
            return
        archs = [r.arch for r in self.result.reports] if self.result and self.result.reports else []
        if not archs:
            archs = [load_arch(self.session.arch(a)) for a in self.inputs.arch_list()[:1]]
        sl = S.slider_for(name, archs)
        label = f"{name} ({sl.unit})" if sl.unit else name
        cls = pn.widgets.EditableIntSlider if sl.integer else pn.widgets.EditableFloatSlider
        kw = {} if sl.integer else {"format": "0[.]000"}
        w = cls(**L(label), start=int(sl.start) if sl.integer else sl.start,
                end=int(sl.end) if sl.integer else sl.end, step=int(sl.step) if sl.integer else sl.step,
                value=int(sl.value) if sl.integer else sl.value, sizing_mode="stretch_width",
                css_classes=["nmc-whatif", f"nmc-whatif-{name}"], **kw)
        w.description = sl.doc + " (applies to every architecture, as --set does)"
        rm = pn.widgets.Button(**L("✕"), width=36, css_classes=[f"nmc-whatif-remove-{name}"])
        row = pn.Row(w, rm, sizing_mode="stretch_width")
        self.sliders[name] = (w, row, sl)
        w.param.watch(self._changed, "value")
        rm.on_click(lambda e: self.remove_slider(name))
        self.slider_box.append(row)
        self.refresh()

    def remove_slider(self, name: str):
        _w, row, _sl = self.sliders.pop(name)
        self.slider_box.remove(row)
        self.refresh()

    def reset_sliders(self):
        self.sliders.clear()
        self.slider_box.clear()
        self.refresh()

    def _upload(self, kind: str, widget):
        data = widget.value
        if not data:
            return
        try:
            label = self.session.upload(kind, widget.filename, data)
        except NmcError as e:
            self.upload_error = S.error_line(e)
            self.refresh()
            return
        except Exception as e:                  # never let a file take the server down
            log.exception("upload failed")
            self.upload_error = f"nmc: error: {widget.filename}: cannot load ({type(e).__name__})"
            self.refresh()
            return
        self.upload_error = None
        self._quiet = True
        try:
            if kind == "model":
                self.model.options = self.session.model_options()
                self.model.value = label
            else:
                opts = self.session.arch_options()
                empty = [w for w in self.archs[1:] if w.value == NONE]
                target = empty[0] if empty else self.archs[-1]
                for k, w in enumerate(self.archs):
                    w.options = opts if k == 0 else [NONE] + opts
                target.value = label
        finally:
            self._quiet = False
        self.refresh()

    def _changed(self, *events):
        if not self._quiet:
            self.refresh()

    def read_inputs(self) -> S.Inputs:
        ov = {}
        for name, (w, _row, sl) in self.sliders.items():
            ov[name] = (S.round_value(float(w.value)), sl.unit)
        return S.Inputs(model=self.model.value,
                        archs=tuple(w.value for w in self.archs if w.value not in (None, NONE)),
                        phase=self.phase.value, batch=int(self.batch.value),
                        prompt=int(self.prompt.value), context=int(self.context.value),
                        generate=int(self.generate.value), tp=int(self.tp.value),
                        weights=self.weights.value, activations=self.activations.value,
                        kv=self.kv.value, mapping=self.mapping.value, overrides=ov)

    # ---- outputs ---------------------------------------------------------------------------
    def _build_outputs(self):
        kw = dict(sizing_mode="stretch_width", stylesheets=[CSS])
        self.status = pn.pane.HTML("", css_classes=["nmc-status"], **kw)
        self.errors = pn.pane.HTML("", css_classes=["nmc-errors"], **kw)
        self.kpi = pn.pane.HTML("", css_classes=["nmc-kpi"], **kw)
        self._build_roofline()
        self._build_shares()
        self._build_heat()
        self.table = pn.widgets.Tabulator(
            value=self._op_frame([]), show_index=False, disabled=True, pagination="local",
            page_size=12, sizing_mode="stretch_width", layout="fit_columns", css_classes=["nmc-ops"],
            theme="simple", stylesheets=[TABLE_CSS],
            widths={h: w for (_, h), w in zip(OP_TABLE, OP_WIDTHS)},
            header_filters={k: {"type": "input", "func": "like", "placeholder": "filter"}
                            for k in ("arch", "operator", "kind", "bound", "engine")})
        self.command = pn.pane.HTML("", css_classes=["nmc-command"], **kw)
        self.dl_summary = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(S.summary_csv(self.result)), filename="nmc-summary.csv",
            label="CSV: summary", embed=False,
            css_classes=["nmc-dl-summary"])
        self.dl_ops = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(S.ops_csv(self.result)), filename="nmc-operators.csv",
            label="CSV: operators", embed=False, css_classes=["nmc-dl-ops"])
        self.dl_json = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(S.result_json(self.result)), filename="nmc-explore.json",
            label="JSON: everything", embed=False,
            css_classes=["nmc-dl-json"])
        self.dl_cmd = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.result.command + "\n"), filename="nmc-command.sh",
            label="command line", embed=False, css_classes=["nmc-dl-cmd"])

    def _build_roofline(self):
        f = figure(height=470, sizing_mode="stretch_width", x_axis_type="log", y_axis_type="log",
                   x_range=Range1d(0.01, 1e5), y_range=Range1d(1e9, 1e16),
                   title="Roofline: operators on each architecture", tools="pan,wheel_zoom,reset,save",
                   x_axis_label="arithmetic intensity (FLOP per device-memory byte)",
                   y_axis_label="attained FLOP/s")
        self.roof_src = ColumnDataSource(dict(xs=[], ys=[], color=[], label=[]))
        self.pim_src = ColumnDataSource(dict(xs=[], ys=[], color=[], pim_label=[]))
        self.pts_src = ColumnDataSource(dict(x=[], y=[], size=[], color=[], marker=[], arch=[],
                                             name=[], kind=[], phase=[], bound=[], engine=[],
                                             share=[], tflops=[]))
        f.multi_line("xs", "ys", color="color", line_width=2, source=self.roof_src,
                     legend_field="label")
        f.multi_line("xs", "ys", color="color", line_width=2, line_dash="dashed",
                     source=self.pim_src, legend_field="pim_label")
        pts = f.scatter("x", "y", size="size", color="color", marker="marker", alpha=0.75,
                        line_color="black", line_width=0.5, source=self.pts_src)
        f.add_tools(HoverTool(renderers=[pts], tooltips=[
            ("arch", "@arch"), ("operator", "@name (@kind, @phase)"), ("bound", "@bound on @engine"),
            ("share of time", "@share{0.0%}"), ("intensity", "@x{0.00} FLOP/B"),
            ("attained", "@tflops{0.000} TFLOP/s")]))
        leg = f.legend[0]
        f.center.remove(leg)
        leg.label_text_font_size = "11px"
        leg.location = "center_left"
        leg.ncols = 2
        leg.margin = 4
        leg.padding = 4
        f.add_layout(leg, "below")
        self.roofline = f

    def _build_shares(self):
        f = figure(height=230, width=430, y_range=FactorRange(factors=[]),
                   x_range=Range1d(0, 100), title="Bound shares (% of time)", tools="save",
                   toolbar_location=None, x_axis_label="% of time")
        self.share_src = ColumnDataSource(dict(arch=[], **{k: [] for k in SHARE_COLORS}))
        rs = f.hbar_stack(list(SHARE_COLORS), y="arch", height=0.6, source=self.share_src,
                          color=list(SHARE_COLORS.values()))
        f.add_layout(Legend(items=[LegendItem(label=value(k), renderers=[r]) for k, r in
                                   zip(SHARE_COLORS, rs)], orientation="horizontal",
                            location="center"), "below")
        f.add_tools(HoverTool(tooltips=[("arch", "@arch"), ("compute", "@compute{0.0}%"),
                                        ("memory", "@memory{0.0}%"), ("latency", "@latency{0.0}%"),
                                        ("comm", "@comm{0.0}%")]))
        self.shares = f

    def _build_heat(self):
        self.heat_metric = pn.widgets.RadioButtonGroup(options=list(HEAT_METRICS),
                                                       value="tokens/s", css_classes=["nmc-heat-metric"])
        self.heat_metric.param.watch(lambda e: self._draw_heat(force=True), "value")
        self._heat_drawn = None
        self.heat_figs, self.heat_srcs, self.mark_srcs = [], [], []
        for k in range(S.MAX_ARCHS):
            f = figure(height=260, sizing_mode="stretch_width", x_range=FactorRange(factors=[]),
                       y_range=FactorRange(factors=[]), tools="save", toolbar_location=None,
                       x_axis_label="batch", y_axis_label="context", title="")
            src = ColumnDataSource(dict(b=[], l=[], color=[], text=[], value=[], fits=[], bound=[]))
            r = f.rect("b", "l", width=1, height=1, fill_color="color", line_color="white",
                       source=src)
            f.text("b", "l", text="text", source=src, text_align="center", text_baseline="middle",
                   text_font_size="9px", text_color="white")
            mark = ColumnDataSource(dict(b=[], l=[]))
            f.rect("b", "l", width=1, height=1, fill_alpha=0, line_color="red", line_width=2.5,
                   source=mark)
            f.add_tools(HoverTool(renderers=[r], tooltips=[
                ("batch", "@b"), ("length", "@l"), ("value", "@value{0.000}"), ("fits", "@fits"),
                ("bound", "@bound")]))
            f.xaxis.major_label_text_font_size = "9px"
            f.yaxis.major_label_text_font_size = "9px"
            f.axis.major_tick_line_color = None
            f.grid.visible = False
            self.heat_figs.append(f)
            self.heat_srcs.append(src)
            self.mark_srcs.append(mark)
        self.heat_panes = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.heat_figs]

    # ---- drawing ---------------------------------------------------------------------------
    def refresh(self):
        t0 = time.perf_counter()
        try:
            self.inputs = self.read_inputs()
            self._set_visibility()
            res = self.session.evaluate(self.inputs)
            self.result = res
            t1 = time.perf_counter()
            with pn.io.hold():
                self._draw(res)
            t2 = time.perf_counter()
            self.status.object = (
                f'<span data-gen="{self.generation}" data-ms="{(t2 - t0) * 1e3:.2f}">'
                f'{len(res.reports)} architecture(s) analysed in {res.seconds["analyze"] * 1e3:.1f} ms, '
                f'batch x length grid in {res.seconds["sweep"] * 1e3:.1f} ms, page data built in '
                f'{(t2 - t1) * 1e3:.1f} ms (update #{self.generation})</span>')
        except Exception as e:                       # a bug must not take the page down
            log.exception("refresh failed")
            self.errors.object = (f'<div class="line">nmc: internal error: {html.escape(type(e).__name__)}: '
                                  f'{html.escape(str(e))}</div>')

    def _set_visibility(self):
        ph = self.inputs.phase
        self.context.visible = ph == "decode"
        self.prompt.visible = ph != "decode"
        self.generate.visible = ph == "generate"

    def _draw(self, res: S.Result):
        self.generation += 1
        lines = ([self.upload_error] if self.upload_error else []) + res.errors
        self.errors.object = "".join(f'<div class="line">{html.escape(x)}</div>' for x in lines)
        self.kpi.object = self._kpi_html(res)
        self._draw_roofline(res)
        self._draw_shares(res)
        self._draw_heat()
        self.table.value = self._op_frame(res.ops)
        self.command.object = f"<pre>{html.escape(res.command)}</pre>"

    def _kpi_html(self, res: S.Result) -> str:
        cols = KPI + (KPI_GENERATE if res.inputs.phase == "generate" else [])
        head = "".join(f"<th>{h}</th>" for _, h in [("arch", "architecture")] + cols)
        body = []
        for k, (row, r) in enumerate(zip(res.rows, res.reports)):
            cells = [f'<td data-key="arch"><span class="swatch" style="background:{COLORS[k]}">'
                     f'</span>{html.escape(row["arch"])}</td>']
            for key, _ in cols:
                v = row[key]
                text = fmt_num(v)
                cls = ' class="no"' if key == "fits" and not v else ""
                cells.append(f'<td data-arch="{html.escape(row["arch"])}" data-key="{key}" '
                             f'data-value="{html.escape(repr(v))}"{cls}>{text}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        m = res.reports[0].model if res.reports else None
        title = ""
        if m is not None:
            title = (f"<div><b>{html.escape(m.name)}</b>: {m.params() / 1e9:.2f} B parameters "
                     f"({m.params(active=True) / 1e9:.2f} B active), {html.escape(res.inputs.phase)}, "
                     f"batch {res.inputs.batch}</div>")
        warns = "".join(f'<div style="color:#8d6e00;font-size:12px">{html.escape(r.arch.name)}: '
                        f'{html.escape(w)}</div>' for r in res.reports for w in r.warnings)
        return (f'<div data-gen="{self.generation}">{title}<table><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>{warns}</div>')

    def _draw_roofline(self, res: S.Result):
        roof = dict(xs=[], ys=[], color=[], label=[])
        pim = dict(xs=[], ys=[], color=[], pim_label=[])
        pts = {k: [] for k in self.pts_src.data}
        xs_all, ys_all, tops = [], [], []
        for k, r in enumerate(res.reports):
            for o in r.ops:
                x, y = o["intensity"], o["attained_flops"]
                if o["flops"] <= 0 or not math.isfinite(x) or x <= 0 or y <= 0:
                    continue
                xs_all.append(x)
                ys_all.append(y)
                pts["x"].append(x)
                pts["y"].append(y)
                pts["size"].append(6 + 26 * math.sqrt(o["share"]))
                pts["color"].append(COLORS[k])
                pts["marker"].append(MARKERS.get(o["kind"], "circle"))
                pts["arch"].append(r.arch.name)
                pts["name"].append(o["name"])
                pts["kind"].append(o["kind"])
                pts["phase"].append(o["phase"])
                pts["bound"].append(o["bound"])
                pts["engine"].append(o["engine"])
                pts["share"].append(o["share"])
                pts["tflops"].append(y / 1e12)
            peaks = [o["peak_flops"] for o in r.ops
                     if o["kind"] in ("gemm", "lm_head") and o["engine"] in ("host", "aimc_digital")]
            peak = max(peaks) if peaks else r.arch["peak_bf16"]
            tops.append(peak)
            roof["xs"].append((peak / r.arch["mem_bw"],))
            roof["color"].append(COLORS[k])
            roof["label"].append(f"{r.arch.name}: {r.arch['mem_bw'] / 1e12:.3g} TB/s, "
                                 f"{peak / 1e12:.4g} TFLOP/s")
            pr = pim_roof(r.arch)
            if pr is not None:
                tops.append(pr[1])
                pim["xs"].append((pr[1] / pr[0], pr[0]))
                pim["color"].append(COLORS[k])
                pim["pim_label"].append(f"{r.arch.name} PIM: {pr[0] / 1e12:.3g} TB/s, "
                                    f"{pr[1] / 1e12:.4g} TFLOP/s")
        ridges = [x[0] for x in roof["xs"]] + [x[0] for x in pim["xs"]]
        lo = min([0.05] + [x / 3 for x in xs_all])
        hi = max([1e4] + [x * 3 for x in xs_all] + [r * 10 for r in ridges])
        bws = [r.arch["mem_bw"] for r in res.reports]
        roof_xs, roof_ys = [], []
        for (ridge,), bw in zip(roof["xs"], bws):
            peak = ridge * bw
            roof_xs.append([lo, ridge, hi])
            roof_ys.append([lo * bw, peak, peak])
        roof["xs"], roof["ys"] = roof_xs, roof_ys
        pim_xs, pim_ys = [], []
        for ridge, bw in pim["xs"]:
            peak = ridge * bw
            pim_xs.append([lo, ridge, hi])
            pim_ys.append([lo * bw, peak, peak])
        pim["xs"], pim["ys"] = pim_xs, pim_ys
        self.roof_src.data = roof
        self.pim_src.data = pim
        self.pts_src.data = pts
        self.roofline.x_range.start, self.roofline.x_range.end = lo, hi
        ylo = min([y / 3 for y in ys_all] + [min(y[0] for y in roof_ys + pim_ys) if roof_ys else 1e9])
        yhi = max(tops or [1e15]) * 4
        self.roofline.y_range.start, self.roofline.y_range.end = max(ylo, yhi / 1e9), yhi

    def _draw_shares(self, res: S.Result):
        names = [r.arch.name for r in res.reports]
        data = {"arch": names}
        for k in SHARE_COLORS:
            data[k] = [r.bound_shares[k] * 100 for r in res.reports]
        self.shares.y_range.factors = list(reversed(names)) if names else []
        self.share_src.data = data

    def _draw_heat(self, force: bool = False):
        res = self.result
        heat = res.heat if res is not None else None
        if heat is not None and heat is self._heat_drawn and not force:
            self._mark_heat(res)                  # same grid (only batch/length moved)
            return
        self._heat_drawn = heat
        key, high_good = HEAT_METRICS[self.heat_metric.value]
        for k, (f, src) in enumerate(zip(self.heat_figs, self.heat_srcs)):
            if heat is None or k >= len(heat["arch"]):
                self.heat_panes[k].visible = False
                continue
            self.heat_panes[k].visible = True
            vals = [v for c in heat["cells"] for v in c[key] if v and v > 0 and math.isfinite(v)]
            lo, hi = (math.log10(min(vals)), math.log10(max(vals))) if vals else (0.0, 1.0)
            c = heat["cells"][k]
            colors, texts = [], []
            for v, fits in zip(c[key], c["fits"]):
                if not fits:
                    colors.append("#c8c8c8")
                    texts.append("✗")
                    continue
                t = (math.log10(v) - lo) / (hi - lo) if hi > lo and v and v > 0 else 0.5
                if not high_good:
                    t = 1 - t
                colors.append(Viridis256[int(np.clip(t, 0, 1) * 255)])
                texts.append(compact(v))
            b = [str(x) for x in c["batch"]]
            ln = [str(x) for x in c["length"]]
            f.x_range.factors = [str(x) for x in heat["batch"]]
            f.y_range.factors = [str(x) for x in heat["length"]]
            f.yaxis.axis_label = heat["axis"]
            f.title.text = f"{heat['arch'][k]}: {self.heat_metric.value}"
            src.data = dict(b=b, l=ln, color=colors, text=texts, value=c[key],
                            fits=["yes" if x else "no" for x in c["fits"]], bound=c["bound"])
        self._mark_heat(res)

    def _mark_heat(self, res: S.Result):
        """The red box on the current (batch, length) cell, when it is on the grid."""
        heat = res.heat
        if heat is None:
            return
        cur_b = str(res.inputs.batch)
        cur_l = str(getattr(res.inputs, heat["axis"]))
        on = res.inputs.batch in heat["batch"] and getattr(res.inputs, heat["axis"]) in heat["length"]
        data = dict(b=[cur_b], l=[cur_l]) if on else dict(b=[], l=[])
        for k, mark in enumerate(self.mark_srcs):
            if k < len(heat["arch"]) and dict(mark.data) != data:
                mark.data = data

    @staticmethod
    def _op_frame(ops: list[dict]):
        import pandas as pd
        rows = [{"arch": o["arch"], "phase": o["phase"], "name": o["name"], "kind": o["kind"],
                 "count": sig(o["count"]), "M": int(o["M"]), "N": int(o["N"]), "K": int(o["K"]),
                 "gflop": sig(o["flops"] / 1e9), "mb": sig(o["dram_bytes"] / 1e6),
                 "intensity": sig(o["intensity"]) if math.isfinite(o["intensity"]) else None,
                 "time_us": sig(o["time_s"] * 1e6), "share_pct": sig(o["share"] * 100, 3),
                 "bound": o["bound"], "engine": o["engine"]} for o in ops]
        df = pd.DataFrame(rows, columns=[k for k, _ in OP_TABLE])
        return df.rename(columns=dict(OP_TABLE))

    # ---- the page --------------------------------------------------------------------------
    def view(self):
        upload_note = pn.pane.HTML('<span style="font-size:12px;color:#555">or upload a '
                                   'HuggingFace config.json:</span>', margin=(0, 10))
        arch_note = pn.pane.HTML('<span style="font-size:12px;color:#555">or upload a preset '
                                 'TOML (docs/arch_schema.md):</span>', margin=(0, 10))
        sidebar = [
            self.model, upload_note, self.model_upload,
            *self.archs, arch_note, self.arch_upload,
            pn.layout.Divider(),
            self.phase, self.batch, self.context, self.prompt, self.generate, self.tp,
            pn.Row(self.weights, self.activations, self.kv), self.mapping,
            pn.layout.Divider(),
            self.param_pick, pn.Row(self.param_add, self.param_reset), self.slider_box,
        ]
        note = pn.pane.HTML(
            '<div style="font-size:12px;color:#555">Solid line: the device-memory roof up to the '
            'matrix peak of each architecture; dashed: its PIM engine. Marker: operator kind '
            '(circle GEMM, diamond LM head, triangles attention, square norm, x softmax, '
            '+ elementwise); size: share of time. Hover a point for its numbers.</div>',
            sizing_mode="stretch_width")
        main = [
            pn.Column(self.errors,
                      pn.Row(pn.Column(self.kpi, self.status, sizing_mode="stretch_width"),
                             pn.pane.Bokeh(self.shares, width=430), sizing_mode="stretch_width"),
                      sizing_mode="stretch_width"),
            pn.Column(pn.pane.Bokeh(self.roofline, sizing_mode="stretch_width"), note,
                      sizing_mode="stretch_width"),
            pn.Column(pn.Row(pn.pane.HTML("<b>Batch x length from the sweep kernel</b> "
                                          "(grey ✗: does not fit; red box: the current point)"),
                             self.heat_metric),
                      pn.GridBox(*self.heat_panes, ncols=2, sizing_mode="stretch_width"),
                      sizing_mode="stretch_width"),
            pn.Column(pn.pane.HTML("<b>Operators</b> of every architecture (click a header to sort, "
                                   "type in a box to filter)"), self.table,
                      sizing_mode="stretch_width"),
            pn.Column(pn.pane.HTML("<b>Export</b>: what is on screen, and the equivalent command "
                                   "(add <code>--format csv</code> for the summary CSV)"),
                      pn.Row(self.dl_summary, self.dl_ops, self.dl_json, self.dl_cmd),
                      self.command, sizing_mode="stretch_width"),
        ]
        # Bootstrap: its resources are bundled with Panel (the Fast templates fetch a web font)
        tpl = pn.template.BootstrapTemplate(
            title="nmc explore — where LLM time goes", sidebar=sidebar, main=main,
            sidebar_width=370, header_background="#1f4e79")
        return tpl


def create_app(root: str | None = None):
    pn.extension("tabulator", raw_css=[CSS], notifications=False)
    ex = Explorer(root)
    pn.state.on_session_destroyed(lambda ctx: ex.session.close())
    return ex.view()


def warm(root: str) -> None:
    """Load (or compile) the kernels before the first page is served."""
    s = S.Session(root)
    try:
        s.evaluate(S.Inputs())
    finally:
        s.close()


def serve(port: int = 5006, open_browser: bool = True) -> int:
    """Serve the page on 127.0.0.1:port until interrupted. Uploads live in a temporary folder
    removed on exit; nothing else is written."""
    with tempfile.TemporaryDirectory(prefix="nmc-explore-") as root:
        warm(root)
        # the imported modules and compiled kernels live as long as the server: keep them out
        # of the collector's full passes (which otherwise pause an update now and then)
        gc.collect()
        gc.freeze()
        try:
            server = pn.serve({"/": lambda: create_app(root)}, port=port, address="127.0.0.1",
                              websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
                              show=False, start=False, title="nmc explore",
                              websocket_max_message_size=8 * S.MAX_UPLOAD)
        except OSError as e:
            raise NmcError(f"cannot serve on 127.0.0.1:{port} ({e.strerror or e}); "
                           f"choose another port with --port") from None
        url = f"http://127.0.0.1:{port}/"
        print(f"nmc explore: serving on {url} (Ctrl+C to stop)", flush=True)
        # SIGTERM stops the loop like Ctrl+C does, so the temporary folder is removed
        try:
            server.io_loop.asyncio_loop.add_signal_handler(signal.SIGTERM, server.io_loop.stop)
        except (AttributeError, NotImplementedError):       # not on this platform
            pass
        server.start()
        if open_browser:
            server.io_loop.add_callback(lambda: __import__("webbrowser").open(url))
        try:
            server.io_loop.start()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    return 0
