"""Which preset values must carry an uncertainty band (docs/bands.md).

Every value whose source has confidence "estimate" or "low" gets a band
`{ central = .., low = .., high = .. }` unless one of these rules exempts it, each for a stated
reason; `unbanded(arch)` lists what is left (tests/test_bands.py keeps that list empty):

- information: not read by the cost kernel (tdp, die_area: export metrics and listings;
  price_per_hour: `nmc serve` cost, linear in it);
- off: the value is 0, which switches a mechanism off or marks it not modelled (sram_bw = 0,
  peak_int4 = 0, pim_power = 0, aimc_read_noise = 0, ...); a band would switch it on, which is a
  different model, not an uncertainty of this one;
- unused: the value belongs to a mechanism the preset does not have (link latency without a
  link, sram efficiency without an SRAM bandwidth, network latency without a network, PIM
  energies inherited by a preset without PIM units);
- configuration: a design or operating choice, not a measured property (how many dies,
  devices or bytes of memory the system has, the residency policy, the read time after
  programming): a different value is a different system, for `nmc sweep`;
- discrete: whole-number structure of a cited design (core and tile counts, tile shapes, bit
  widths, ADCs per tile, flags): a band would have to move in steps that change the design, and
  several are tied by consistency rules (dac_bits <= input_bits). A band is still allowed on
  them (e.g. aimc-edge-projected's aimc_adcs); it is not required."""
from __future__ import annotations

from .loader import Architecture, load_arch

UNCERTAIN = ("estimate", "low")
INFORMATION = frozenset({"tdp", "die_area", "price_per_hour"})
CONFIGURATION = frozenset({
    "mem_capacity", "sram_capacity", "devices_per_node", "pim_devices", "pim_capacity",
    "aimc_chips", "aimc_pipeline", "aimc_residency", "aimc_drift_t"})
DISCRETE = frozenset({
    "n_cores", "tile_m", "tile_n", "mma_m", "aimc_rows", "aimc_cols", "aimc_weight_bits",
    "aimc_cell_bits", "aimc_diff_cells", "aimc_input_bits", "aimc_dac_bits", "aimc_adc_bits",
    "aimc_adcs", "aimc_adc_pipelined", "aimc_prog_tiles", "pim_page", "pim_buffer",
    "pim_faw_acts", "pim_act_weight", "pim_channels", "pim_bank_groups", "pim_banks",
    "pim_banks_per_unit", "pim_pins", "pim_ranks", "pim_broadcast"})
LINK = ("link_bw", "link_latency", "e_link")
NET = ("net_bw", "net_latency")
SRAM = ("eff_sram", "e_sram", "sram_bw")


def exemption(a: Architecture, key: str) -> str | None:
    """Why `key` of `a` needs no band (None: it needs one)."""
    if key in INFORMATION:
        return "information: not read by the cost kernel"
    v = a.values.get(key)
    if v is None:
        return "text: not a number"
    if v == 0:
        return "off: 0 switches the mechanism off / marks it not modelled"
    if key.startswith("pim_") and a["pim_banks"] <= 0:
        return "unused: no PIM units (pim_banks = 0)"
    if key.startswith("aimc_") and a["aimc_tiles"] <= 0:
        return "unused: no crossbar tiles (aimc_tiles = 0)"
    if key in LINK and a["link_bw"] <= 0:
        return "unused: no scale-up link (link_bw = 0)"
    if key in NET and a["net_bw"] <= 0:
        return "unused: no scale-out network (net_bw = 0)"
    if key == "eff_link" and a["link_bw"] <= 0 and a["net_bw"] <= 0:
        return "unused: no link and no network"
    if key in SRAM and (a["sram_bw"] <= 0 or a["sram_capacity"] <= 0):
        return "unused: no SRAM level modelled (sram_bw or sram_capacity = 0)"
    if key in CONFIGURATION:
        return "configuration: a design or operating choice, not an uncertain property"
    if key in DISCRETE:
        return "discrete: whole-number structure of the cited design"
    return None


def uncertain_values(a) -> list[tuple[str, str, bool, str | None]]:
    """Every value of a preset whose source is an estimate or of low confidence:
    (key, confidence, banded, exemption or None)."""
    a = load_arch(a)
    out = []
    for k, s in sorted(a.sources.items()):
        if s.get("confidence") in UNCERTAIN:
            out.append((k, s["confidence"], k in a.bands, exemption(a, k)))
    return out


def unbanded(a) -> list[str]:
    """Estimate / low-confidence values of a preset with neither a band nor an exemption."""
    return [k for k, _, banded, why in uncertain_values(a) if not banded and why is None]
