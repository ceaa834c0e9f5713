"""US export-control rules on AI accelerators, as data (docs/policy.md). nmc.arch.export evaluates
them for a preset.

Every rule holds its name (with the year), its citation, where its text was read and with what
confidence, its thresholds and the paragraphs that combine them. A paragraph is met when all its
thresholds are met; the first met paragraph (in the order listed) gives the rule's outcome.
Thresholds that sit in no paragraph are reference lines: their margins are reported, they decide
nothing.

Metrics (nmc.arch.export.metrics computes them from a preset):
  tpp          total processing performance, 2 x MacTOPS x bit length, max over precisions, dense
  pd           performance density, TPP / applicable die area (mm2)
  io_bw        aggregate bidirectional I/O to ICs other than memory, GB/s: 2 x link_bw (the
               scale-up link, both directions), plus host_io_gbs when given (the PCIe host link)
  mem_bw       peak device-memory (DRAM) bandwidth, GB/s
  hbm_density  memory bandwidth density of one HBM stack of the part's memory type, GB/s/mm2
               (HBM_STACKS below; None without HBM)

Confidence: "medium" throughout for the rule texts: the Federal Register pages were read only as
quoted verbatim by secondary sources (docs/policy.md lists them); the 2025 letter was never
published and is known from NVIDIA's SEC filings."""
from __future__ import annotations

from dataclasses import dataclass, field

METRICS = {
    "tpp": ("TPP", "total processing performance: 2 x MacTOPS x bit length, dense, max over precisions"),
    "pd": ("TPP/mm2", "performance density: TPP / applicable die area"),
    "io_bw": ("GB/s", "aggregate bidirectional I/O bandwidth to ICs other than memory (2 x link_bw [+ host link])"),
    "mem_bw": ("GB/s", "peak device-memory (DRAM) bandwidth"),
    "hbm_density": ("GB/s/mm2", "memory bandwidth density of one HBM stack: stack bandwidth / stack area"),
}


@dataclass(frozen=True)
class Threshold:
    id: str          # unique within the rule
    metric: str      # a key of METRICS
    op: str          # ">=", ">" or "<"
    value: float
    label: str       # what the line is, in words

    def meets(self, x: float) -> bool:
        return x >= self.value if self.op == ">=" else x > self.value if self.op == ">" else x < self.value

    def text(self) -> str:
        return f"{self.metric} {self.op} {self.value:g} {METRICS[self.metric][0]}"


@dataclass(frozen=True)
class Paragraph:
    id: str                      # "3A090.a(1)"
    thresholds: tuple[str, ...]  # Threshold ids, all must be met
    outcome: str                 # what meeting it means: "3A090.a", "licence required", ...


@dataclass(frozen=True)
class Rule:
    key: str                     # stable key: "2022-10", "2023-10", "2024-12", "2025-04", "2026-01"
    name: str                    # name with the year and the citation
    year: int
    effective: str               # ISO date
    kind: str                    # "control" | "licence requirement" | "licence review policy"
    citation: str
    sources: tuple[str, ...]     # where the text and numbers were read
    confidence: str
    thresholds: tuple[Threshold, ...]
    paragraphs: tuple[Paragraph, ...]
    scope: str = "all"           # "all" | "hbm" (HBM stacks, co-packaged excluded) | "licensed"
    named: dict = field(default_factory=dict)   # preset name -> why it is named (outcome without thresholds)
    not_modelled: tuple[str, ...] = ()
    note: str = ""

    def threshold(self, tid: str) -> Threshold:
        return next(t for t in self.thresholds if t.id == tid)


T = Threshold
OCT_2022 = Rule(
    key="2022-10",
    name="Oct 2022: ECCN 3A090 (87 FR 62186)",
    year=2022, effective="2022-10-07", kind="control",
    citation=("BIS interim final rule 'Implementation of Additional Export Controls: Certain "
              "Advanced Computing and Semiconductor Manufacturing Items; Supercomputer and "
              "Semiconductor End Use; Entity List Modification', 87 FR 62186 (13 Oct 2022), "
              "FR Doc 2022-21658, effective 7 Oct 2022; ECCN 3A090"),
    sources=(("Export Control Toolkit threshold history (Spencer Kelly, skellystuff.net, file "
             "data/thresholdData) quoting 87 FR 62186: 'Bit length per operation multiplied by "
             "processing performance measured in TOPS, aggregated over all processor units, of 4800 "
             "or more' and 'Aggregate bidirectional transfer rate over all inputs and outputs [...] "
             "of 600 Gbyte/s or more to or from integrated circuits other than volatile memories'; "
             "both lines had to be met"),),
    confidence="medium",
    thresholds=(T("tpp", "tpp", ">=", 4800.0, "processing performance x bit length >= 4800"),
                T("io", "io_bw", ">=", 600.0, "bidirectional I/O to non-memory ICs >= 600 GB/s")),
    paragraphs=(Paragraph("3A090", ("tpp", "io"), "3A090"),),
    not_modelled=("the 4A090 computer controls and the end-use rules of the same package",),
    note=("I/O in nmc = 2 x link_bw, the scale-up link in both directions; the rule counts every "
          "I/O to non-memory ICs, so the PCIe host link adds to it (host_io_gbs=, --host-io): "
          "no part of the table changes status with it"),
)

OCT_2023 = Rule(
    key="2023-10",
    name="Oct 2023: ECCN 3A090.a/.b (88 FR 73458)",
    year=2023, effective="2023-11-17", kind="control",
    citation=("BIS interim final rule 'Implementation of Additional Export Controls: Certain "
              "Advanced Computing Items; Supercomputer and Semiconductor End Use; Updates and "
              "Corrections', 88 FR 73458 (25 Oct 2023), FR Doc 2023-23055, effective 17 Nov 2023; "
              "ECCN 3A090.a/.b and technical notes"),
    sources=(("Export Control Toolkit threshold history quoting FR 2023-23055: TPP = '2 x MacTOPS x "
             "bit length of the operation, aggregated over all processing units on the integrated "
             "circuit'; PD = 'TPP divided by applicable die area' (all logic dies on a non-planar "
             "process node); tiers 4800 TPP or 1600 TPP + 5.92 PD (3A090.a), 2400-4800 TPP + "
             "1.6-5.92 PD or 1600 TPP + 3.2-5.92 PD (3A090.b); the interconnect line was dropped"),),
    confidence="medium",
    thresholds=(T("tpp4800", "tpp", ">=", 4800.0, "3A090.a TPP line"),
                T("tpp2400", "tpp", ">=", 2400.0, "3A090.b(1) TPP line"),
                T("tpp1600", "tpp", ">=", 1600.0, "TPP floor of 3A090.a(2) and .b(2)"),
                T("pd5.92", "pd", ">=", 5.92, "3A090.a(2) density line"),
                T("pd3.2", "pd", ">=", 3.2, "3A090.b(2) density line"),
                T("pd1.6", "pd", ">=", 1.6, "3A090.b(1) density floor")),
    paragraphs=(Paragraph("3A090.a(1)", ("tpp4800",), "3A090.a"),
                Paragraph("3A090.a(2)", ("tpp1600", "pd5.92"), "3A090.a"),
                Paragraph("3A090.b(1)", ("tpp2400", "pd1.6"), "3A090.b"),
                Paragraph("3A090.b(2)", ("tpp1600", "pd3.2"), "3A090.b")),
    not_modelled=(("the 'designed or marketed for use in data centers' qualifier: every part is "
                  "evaluated as a data-centre part (non-data-centre ICs are caught only at TPP >= 4800)"),
                  "Licence Exceptions NAC/ACA of 3A090.b",
                  "the upper bounds of .b (TPP < 4800, PD < 5.92): .a is tested first, so they never decide"),
)

DEC_2024 = Rule(
    key="2024-12",
    name="Dec 2024: ECCN 3A090.c HBM (89 FR 96790)",
    year=2024, effective="2024-12-02", kind="control",
    citation=("BIS interim final rule 'Foreign-Produced Direct Product Rule Additions, and "
              "Refinements to Controls for Advanced Computing and Semiconductor Manufacturing "
              "Items', 89 FR 96790 (5 Dec 2024), FR Doc 2024-28270; ECCN 3A090.c"),
    sources=(("Export Control Toolkit (quoting FR 2024-28270 paragraphs 105-106): HBM with a "
             "'memory bandwidth density' of 2 GB/s/mm2 is controlled under 3A090.c, '[a]ll HBM "
             "stacks currently in production exceed this threshold', and co-packaged HBM is "
             "excluded (the part stays governed by TPP/PD)"),
             ("G. C. Allen, 'Understanding the Biden Administration's Updated Export Controls', "
             "CSIS, 11 Dec 2024: memory bandwidth density = 'the memory bandwidth measured in "
             "gigabytes (GB) per second divided by the area of the package or stack measured in "
             "square millimeters'; country-wide controls above 3.3 GB/s/mm2 (below it a licence "
             "exception with end-use limits): HBM2 allowed that way, HBM2e and later not")),
    confidence="medium",
    thresholds=(T("density2", "hbm_density", ">", 2.0, "3A090.c: memory bandwidth density > 2 GB/s/mm2"),
                T("density3.3", "hbm_density", ">=", 3.3,
                  "reference line: the HBM licence exception ends at 3.3 GB/s/mm2")),
    paragraphs=(Paragraph("3A090.c", ("density2",), "3A090.c"),),
    scope="hbm",
    note=("applies to HBM stacks as items; HBM co-packaged with a logic IC is excluded, so for "
          "every accelerator preset the status is 'not applicable' and the margins are those of "
          "one stack of its memory type (HBM_STACKS) exported alone"),
)

APR_2025 = Rule(
    key="2025-04",
    name="Apr 2025: H20-class licence requirement (USG letter, NVIDIA 8-K)",
    year=2025, effective="2025-04-09", kind="licence requirement",
    citation=("USG 'is-informed' letter to NVIDIA (9 Apr 2025; 'indefinite future' 14 Apr), "
              "disclosed in NVIDIA Form 8-K Item 8.01 filed 15 Apr 2025 and in NVIDIA's 10-Q risk "
              "factors; not published in the Federal Register. AMD disclosed the same for the "
              "Instinct MI308 (16 Apr 2025)"),
    sources=(("NVIDIA 10-Q risk factor (quoted verbatim in a public filing digest): 'In April 2025, "
             "the USG informed us that it requires a license for export to China (including Hong "
             "Kong and Macau) and D:5 countries, or to companies headquartered or with an ultimate "
             "parent therein, of our H20 integrated circuits and any other circuits achieving the "
             "H20's memory bandwidth, interconnect bandwidth, or combination thereof'; 'In August "
             "2025, the USG granted licenses that would allow us to ship certain H20 products to "
             "certain China-based customers' (about $60 M of revenue); $4.5 bn H20 charge (NVIDIA "
             "letter to the SEC, 31 Jul 2025)"),
             ("H20 figures the thresholds are taken from: the h20 preset (HBM3 4.0 TB/s, NVLink 900 "
             "GB/s total; partner spec sheets and press, medium)")),
    confidence="medium",
    thresholds=(T("mem", "mem_bw", ">=", 4000.0, "reaches the H20's memory bandwidth (4.0 TB/s)"),
                T("io", "io_bw", ">=", 900.0, "reaches the H20's interconnect bandwidth (900 GB/s)")),
    paragraphs=(Paragraph("memory bandwidth >= H20", ("mem",), "licence required"),
                Paragraph("interconnect >= H20", ("io",), "licence required")),
    named={"h20": "named in the letter (NVIDIA H20)"},
    not_modelled=(("'or combination thereof': the letter's combined criterion is not public, so "
                  "a part under both lines can still be caught; nmc tests each line alone"),
                  ("scope: the letter binds its recipients (NVIDIA; AMD for the MI308) for China, "
                  "Hong Kong, Macau and D:5; nmc applies the lines to every preset")),
    note="licences were granted from August 2025 (NVIDIA 10-Q); the requirement itself stands",
)

JAN_2026 = Rule(
    key="2026-01",
    name="Jan 2026: case-by-case review for H200-class parts (91 FR 1684)",
    year=2026, effective="2026-01-15", kind="licence review policy",
    citation=("BIS final rule 'Revision to License Review Policy for Advanced Computing "
              "Commodities', 91 FR 1684 (15 Jan 2026), FR Doc 2026-00789, RIN 0694-AK43, effective "
              "15 Jan 2026; 15 CFR 742.6(b)(10)(iii)(A)(1)"),
    sources=(("rule text quoted verbatim (from govinfo) in a public research note: 'for advanced "
             "computing commodities with a TPP less than 21,000 (as defined in Technical Note 2 to "
             "3A090.a and 3A090.b), and a `total DRAM bandwidth' less than 6,500 GB/s [...], such as "
             "the NVIDIA H200 or AMD MI325X, [...] move from a presumption of denial to a "
             "case-by-case license review policy for exports from the United States destined to "
             "China or Macau'"),
             ("Export Control Toolkit threshold history: 'TPP < 21,000 AND' ... '\"Total DRAM "
             "Bandwidth\" < 6,500 GB/s'")),
    confidence="medium",
    thresholds=(T("tpp", "tpp", "<", 21000.0, "TPP < 21,000"),
                T("mem", "mem_bw", "<", 6500.0, "total DRAM bandwidth < 6,500 GB/s")),
    paragraphs=(Paragraph("case-by-case zone", ("tpp", "mem"), "case-by-case review"),),
    scope="licensed",
    not_modelled=(("the conditions of the zone: commercially available in the US, supply and "
                  "foundry-capacity certifications, recipient security, third-party testing in "
                  "the US, the 50 % volume cap; re-exports and D:5-headquartered buyers stay "
                  "under a presumption of denial"),
                  ("'total DRAM bandwidth' as defined in Supp. 2 to part 748 (dd)(1): nmc uses the "
                  "preset's peak mem_bw")),
    note=("a licence review policy, not a control: it applies to parts that need a licence "
          "(Oct 2023 3A090 or the Apr 2025 letter); outside the zone, presumption of denial"),
)

RULES: tuple[Rule, ...] = (OCT_2022, OCT_2023, DEC_2024, APR_2025, JAN_2026)
BY_KEY = {r.key: r for r in RULES}

# One HBM stack of each generation: (GB/s per stack, stack area mm2, source of each, confidence).
# Bandwidth = 1024-bit interface x pin rate / 8. Areas are package footprints.
HBM_STACKS = {
    "HBM2": {"bw_gbs": 256.0, "area_mm2": 7.75 * 11.87,
             "bw_ref": "2.0 Gb/s per pin x 1024 bits (design-reuse.com 'HBM3: next generation memory "
                       "standard', 2021: HBM2 2 GT/s); 256 GB/s per stack",
             "area_ref": "JEDEC HBM2 footprint 7.75 mm x 11.87 mm, read only as quoted in a "
                         "third-party component review (low)",
             "confidence": "low"},
    "HBM2E": {"bw_gbs": 409.6, "area_mm2": 7.75 * 11.87,
              "bw_ref": "3.2 Gb/s per pin x 1024 bits (design-reuse.com 2021: HBM2E 3.2 GT/s)",
              "area_ref": "estimate: the HBM2 footprint kept (no HBM2E package drawing read)",
              "confidence": "estimate"},
    "HBM3": {"bw_gbs": 819.2, "area_mm2": 11.0 * 11.0,
             "bw_ref": "6.4 Gb/s per pin x 1024 bits = 819 GB/s (design-reuse.com 2021; Tweakers on "
                       "Micron HBM3E, 2024: 'HBM3 ... 6,4Gbit/s per pin, oftewel 819GB/s')",
             "area_ref": "estimate: the HBM3E footprint (11 mm x 11 mm) taken for HBM3",
             "confidence": "estimate"},
    "HBM3E": {"bw_gbs": 1177.6, "area_mm2": 11.0 * 11.0,
              "bw_ref": "9.2 Gb/s per pin x 1024 bits ~ 1.2 TB/s (Micron HBM3E, via Tweakers 2024)",
              "area_ref": "11 mm x 11 mm 'per Micron product brief', read only as quoted in a "
                          "third-party component review (low)",
              "confidence": "low"},
}

# Vendors whose parts are designed under US export rules (the 'designed around' reading).
US_VENDORS = ("NVIDIA", "AMD", "Intel", "Xilinx", "Apple", "Google", "Qualcomm")

# The parts `nmc policy` lists by default.
POLICY_PARTS = ("h100-sxm", "h800-sxm", "h20", "a100-80g-sxm", "a800-80g-sxm", "l20",
                "ascend-910b", "h200-sxm", "b200", "mi300x")
