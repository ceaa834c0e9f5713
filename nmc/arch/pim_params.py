"""Parameters of the near-memory compute (PIM) family (docs/nmc.md).

A PIM system = the host block (the host processor, and in a GPU+PIM system the external memory
interface the host reads the PIM DRAM through) + this block: DRAM whose banks carry compute
units (engine 1, nmc/engine/pim.py). The DRAM is described from its organisation up; the kernel
derives internal bandwidth, row activations and transfer times from these raw numbers, so a
sweep over e.g. `pim_banks` or `pim_trcd` works.

The limits ([pim_limits]: tFAW/tRRD activation window, power budget), the capacity the units take
(pim_capacity_loss), their static power (pim_p_static) and host/PIM overlap (pim_overlap) are 0 by
default: a preset that leaves them out evaluates with DRAM timing alone, as before.

`pim_banks = 0` (the default) means no PIM engine, so GPU presets are unchanged. A preset of
family "pim" must have `pim_banks > 0`. check_pim() adds the rules a range cannot express
(page >= burst, banks divisible by bank groups and by banks per unit, ...); the loader calls it
for every architecture."""
from __future__ import annotations

from ..errors import ConfigError

INF = float("inf")


def P(name, section, kind, default, lo, hi, doc, lo_open=False):
    """Plain tuples (schema.py turns them into Param): this module must not import schema."""
    return (name, section, kind, default, lo, hi, doc, lo_open)


PIM = [
    # organisation
    P("pim_devices", "pim_org", "count", 1.0, 1, 1e6, "PIM stacks / chips / DIMMs in the system"),
    P("pim_channels", "pim_org", "count", 1.0, 1, 1e6, "independent (pseudo-)channels or ranks per device"),
    P("pim_bank_groups", "pim_org", "count", 1.0, 1, 1e6, "bank groups per channel (must divide pim_banks)"),
    P("pim_banks", "pim_org", "count", 0.0, 0, 1e6, "banks per channel that can feed a PIM unit (0: no PIM engine)"),
    P("pim_page", "pim_org", "bytes", 1024.0, 0, INF, "row (page) size of one bank", True),
    P("pim_burst", "pim_org", "bytes", 32.0, 0, INF, "bytes one column access of one bank delivers to its PIM unit", True),
    P("pim_pins", "pim_org", "count", 1024.0, 1, 1e6, "data pins of one device's external interface"),
    P("pim_io_rate", "pim_org", "bw", 0.8e9, 0, INF, "data rate per pin (e.g. '6.4 Gb/s')", True),
    P("pim_capacity", "pim_org", "bytes", 0.0, 0, INF, "DRAM capacity of one device as it would be without compute units (the fit check subtracts devices x pim_capacity x pim_capacity_loss from mem_capacity)"),
    P("pim_capacity_loss", "pim_org", "fraction", 0.0, 0, 0.99, "fraction of each device's DRAM capacity the compute units take (0: none; Samsung HBM-PIM 6 of 8 GB: 0.25)"),
    P("pim_ranks", "pim_org", "count", 1.0, 1, 1024, "activation domains per channel (ranks / stack IDs): tFAW and tRRD are counted per domain (must divide pim_banks)"),
    P("pim_locality", "pim_org", "fraction", 1.0, 0, 1, "fraction of each opened row the data layout uses (1: whole rows; < 1: strided / scattered rows)", True),
    # timing
    P("pim_tccd", "pim_timing", "time", 2e-9, 0, 1e-3, "interval between column accesses of one PIM unit in PIM mode (tCCD_L or the MAC command interval)", True),
    P("pim_trcd", "pim_timing", "time", 14e-9, 0, 1e-3, "row activate to column access (tRCD)"),
    P("pim_trp", "pim_timing", "time", 14e-9, 0, 1e-3, "precharge (tRP)"),
    P("pim_tras", "pim_timing", "time", 33e-9, 0, 1e-3, "minimum row-open time (tRAS)"),
    P("pim_refresh", "pim_timing", "fraction", 0.0, 0, 0.5, "fraction of time lost to refresh (tRFC / tREFI)"),
    # limits on the activation and column rate (0: not applied)
    P("pim_tfaw", "pim_limits", "time", 0.0, 0, 1e-3, "four-activate window: at most pim_faw_acts row activations start in one domain per tFAW (JEDEC; 0: not applied)"),
    P("pim_faw_acts", "pim_limits", "count", 4.0, 1, 1024, "activations allowed per tFAW window and domain (JEDEC: 4)"),
    P("pim_trrd", "pim_limits", "time", 0.0, 0, 1e-3, "minimum interval between two activations in one domain (tRRD_S; 0: not applied)"),
    P("pim_act_weight", "pim_limits", "fraction", 1.0, 0, 64, "activation slots (of tFAW / tRRD) one bank activation in PIM mode takes: 1 = every bank's activation counts as one ACT (a 4-bank ganged PIM ACT fills a 4-ACT window); 0 = all-bank PIM activations are exempt (the design limits power by other means)"),
    P("pim_power", "pim_limits", "power", 0.0, 0, INF, "power budget of one device for bank activity in PIM mode (activations + column accesses at pim_e_act / pim_e_bank); 0: no budget"),
    # PIM compute
    P("pim_banks_per_unit", "pim_compute", "count", 1.0, 1, 1024, "banks sharing one PIM unit (the unit alternates between them, hiding activations)"),
    P("pim_unit_flops", "pim_compute", "flops", 0.0, 0, INF, "16-bit floating-point FLOP/s of one unit (FMA = 2 FLOP)"),
    P("pim_unit_flops_int8", "pim_compute", "flops", 0.0, 0, INF, "INT8/FP8 op/s of one unit (0: runs at the 16-bit rate)"),
    P("pim_unit_flops_fp32", "pim_compute", "flops", 0.0, 0, INF, "FP32 FLOP/s of one unit (0: half the 16-bit rate)"),
    P("pim_buffer", "pim_compute", "bytes", 64.0, 0, INF, "register/buffer bytes per unit for input vectors + accumulators; sets how many vectors reuse one weight burst"),
    # host <-> PIM
    P("pim_kernel_overhead", "pim_host", "time", 1e-6, 0, 1.0, "per PIM kernel: command issue, synchronisation, result barrier"),
    P("pim_mode_switch", "pim_host", "time", 0.0, 0, 1.0, "one switch between normal and PIM mode (charged on entering and leaving PIM)"),
    P("pim_broadcast", "pim_host", "count", 0.0, 0, 1, "1: one write of an input vector reaches every channel of a device (buffer-die broadcast); 0: written per channel"),
    P("pim_overlap", "pim_host", "fraction", 0.0, 0, 1, "fraction of the shorter of (host time, PIM time) of a pass hidden by running both at once (sub-batch interleaving, dual row buffers): pass time = T_host + T_pim - overlap x min(T_host, T_pim); 0: they take turns, 1: max(T_host, T_pim)"),
    # energy
    P("pim_e_bank", "pim_energy", "energy_byte", 0.0, 0, INF, "energy per byte read from a bank into its PIM unit (cell + local I/O)"),
    P("pim_e_act", "pim_energy", "energy_byte", 0.0, 0, INF, "activation + precharge energy per byte of row opened"),
    P("pim_e_io", "pim_energy", "energy_byte", 0.0, 0, INF, "energy per byte moved host <-> PIM over the external bus"),
    P("pim_e_flop", "pim_energy", "energy_flop", 0.0, 0, INF, "energy per FLOP of a PIM unit"),
    P("pim_p_static", "pim_energy", "power", 0.0, 0, INF, "static power of one PIM device's compute logic (leakage, buffers, clocks), charged for the whole time beside p_static"),
]


def check_pim(vals: dict, where: str, family: str | None = None) -> None:
    """Cross-parameter rules of the PIM block (called by the loader for every preset)."""
    if "pim_banks" not in vals:
        return
    banks = vals["pim_banks"]
    if family == "pim" and banks <= 0:
        raise ConfigError(f"{where}: pim_org.pim_banks = {banks:g}: a PIM architecture needs banks "
                          f"(allowed: integer >= 1)")
    if banks <= 0:
        return
    for k in ("pim_devices", "pim_channels", "pim_bank_groups", "pim_banks", "pim_banks_per_unit",
              "pim_pins", "pim_ranks", "pim_faw_acts"):
        if vals[k] != int(vals[k]):
            raise ConfigError(f"{where}: {k} = {vals[k]:g} must be a whole number")
    if vals["pim_page"] < vals["pim_burst"]:
        raise ConfigError(f"{where}: pim_org.pim_page = {vals['pim_page']:g} B is smaller than one "
                          f"burst pim_burst = {vals['pim_burst']:g} B (allowed: page >= burst)")
    if banks % vals["pim_bank_groups"]:
        raise ConfigError(f"{where}: pim_bank_groups = {vals['pim_bank_groups']:g} must divide "
                          f"pim_banks = {banks:g}")
    if vals["pim_banks_per_unit"] > banks or banks % vals["pim_banks_per_unit"]:
        raise ConfigError(f"{where}: pim_compute.pim_banks_per_unit = {vals['pim_banks_per_unit']:g} "
                          f"must divide pim_banks = {banks:g} (allowed: 1..{banks:g})")
    if banks % vals["pim_ranks"]:
        raise ConfigError(f"{where}: pim_org.pim_ranks = {vals['pim_ranks']:g} must divide "
                          f"pim_banks = {banks:g}")
    lost = vals["pim_devices"] * vals["pim_capacity"] * vals["pim_capacity_loss"]
    if vals["pim_capacity_loss"] > 0 and vals["pim_capacity"] <= 0:
        raise ConfigError(f"{where}: pim_org.pim_capacity_loss = {vals['pim_capacity_loss']:g} needs "
                          f"pim_org.pim_capacity (the capacity it is a fraction of) > 0")
    if lost >= vals["mem_capacity"]:
        raise ConfigError(f"{where}: pim_org.pim_capacity_loss = {vals['pim_capacity_loss']:g} removes "
                          f"{lost:g} B, not less than mem_capacity = {vals['mem_capacity']:g} B "
                          f"(allowed: devices x pim_capacity x loss < mem_capacity)")
    if vals["pim_unit_flops"] <= 0:
        raise ConfigError(f"{where}: pim_compute.pim_unit_flops must be > 0 when pim_banks > 0")
    if vals["pim_tras"] < vals["pim_trcd"]:
        raise ConfigError(f"{where}: pim_timing.pim_tras = {vals['pim_tras']:g} s is shorter than "
                          f"pim_trcd = {vals['pim_trcd']:g} s (allowed: tRAS >= tRCD)")
