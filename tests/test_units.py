import pytest

from nmc import units
from nmc.errors import ConfigError


@pytest.mark.parametrize("text,kind,value", [
    ("3.35 TB/s", "bw", 3.35e12), ("400 Gb/s", "bw", 50e9), ("989.4 TFLOPS", "flops", 989.4e12),
    ("80 GB", "bytes", 80e9), ("50 MiB", "bytes", 50 * 2**20), ("4.5 us", "time", 4.5e-6),
    ("14 ns", "time", 14e-9), ("700 W", "power", 700.0), ("0.6 pJ/FLOP", "energy_flop", 0.6e-12),
    ("3.9 pJ/bit", "energy_byte", 3.9e-12 * 8), ("814 mm2", "area", 814.0), (12, "count", 12.0),
    ("624 TOPS", "flops", 624e12),
])
def test_parse(text, kind, value):
    assert units.parse(text, kind) == pytest.approx(value)


@pytest.mark.parametrize("text,kind", [("3 TB/s", "flops"), ("fast", "bw"), (True, "bw"), ([1], "bw")])
def test_parse_errors(text, kind):
    with pytest.raises(ConfigError):
        units.parse(text, kind, "file: key")


def test_fmt():
    assert units.fmt(3.35e12, "B/s") == "3.35 TB/s"
    assert units.fmt(4.5e-6, "s") == "4.5 µs"
