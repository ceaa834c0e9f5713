"""Every flat-vector offset comes from one declaration (nmc/engine/layout.py): blocks are
contiguous, no two names share a slot, the name tuples have the block's length, and the kernel
arrays are sized from them."""
import re

import pytest

import nmc
from nmc.engine import layout as L

PREFIXES = {"M": "MODEL_FIELDS", "S": "SCEN_FIELDS", "OP": "OP_NAMES", "K": "KIND_NAMES",
            "O": "OP_COLUMNS", "T": "TERM_FIELDS", "R": "RESULT_FIELDS", "ACC": "ACC_FIELDS",
            "C": "CFG_FIELDS", "TR": "TR_FIELDS", "CH": "CHIP_FIELDS", "AT": "AIMC_TRAIN_FIELDS",
            "MAP": "MAPPING_NAMES", "PHASE": "PHASE_NAMES", "BOUND": "BOUND_NAMES",
            "RECOMP": "RECOMP_NAMES", "FP8": "FP8_NAMES", "P": None, "PX": None}


def _constants(prefix):
    pat = re.compile(rf"^{prefix}_[A-Z0-9_]+$")
    return {k: v for k, v in vars(L).items() if pat.match(k) and isinstance(v, int)
            and not any(k.startswith(f"{q}_") and len(q) > len(prefix) for q in PREFIXES
                        if q.startswith(prefix))}


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_block_is_contiguous_and_unaliased(prefix):
    start, end = L._BLOCKS[prefix]
    consts = _constants(prefix)
    offsets = sorted(consts.values())
    assert len(set(offsets)) == len(offsets), f"{prefix}: two names share a slot"
    assert offsets[0] == start and offsets[-1] < end
    names = PREFIXES[prefix]
    if names:
        assert len(getattr(L, names)) == end - start == len(consts)


def test_widths_fill_the_px_block():
    # PX_F0, PX_RC and PX_EC span N_CLASSES slots each: the next declared name starts after them
    assert L.PX_W == L.PX_F0 + L.N_CLASSES
    assert L.PX_EC == L.PX_RC + L.N_CLASSES
    assert L.N_PX == L.PX_EC + L.N_CLASSES


def test_declaring_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        L.declare("M", [("LAYERS", "again")])


def test_result_fields_name_the_report():
    r = nmc.analyze("tinyllama-1.1b", "h100-sxm", phase="decode", batch=2, context=64)
    assert list(r.results) == list(L.RESULT_FIELDS)
    assert r.results["latency_s"] == pytest.approx(1 / r.results["tokens_per_s"] * 2)
    assert r.results["aimc_tiles_needed"] is None       # NaN on a GPU: None in the report
