"""Hook for the numbers of docs/serving.md (its author registers them here; nothing is
registered yet, so `nmc report --check` does not read docs/serving.md).

How to register (see nmc/report/checks/__init__.py for the format specs):

    from ...serving import serve
    from . import block, quote, source

    @source("serving_chat", quick=True)          # quick: a few seconds; else only the full check
    def _serving_chat() -> dict:
        r = serve("llama-3-70b", "h100-sxm", tp=4, rate=8, trace="chat").to_dict()
        return {"ttft_p50_ms": 1e3 * r["ttft_p50_s"], "table": render_table(r)}

    quote("docs/serving.md", "a median TTFT of {serving_chat.ttft_p50_ms:.3S} ms")
    block("docs/serving.md", "serving_chat", "serving_chat", lambda v: v["table"])
    #   -> the doc holds <!-- nmc:serving_chat --> ... <!-- /nmc:serving_chat --> around the table

`nmc report --write --only serving` then fills the doc from the code, and `nmc report --check`
fails when it drifts. For prose with many numbers, write the paragraph once with
{serving_chat.ttft_p50_ms:.3S}-style fields and let `from_template(text, "docs/serving.md",
{"serving_chat": _serving_chat()})` return the filled text and the phrases to pass to quotes()
(docs/experiments.md was registered that way)."""
