import pytest

from nmc import policy


@pytest.mark.parametrize("t,pd,cls", [
    (15800, 19.4, "3A090.a"), (4990, 6.0, "3A090.a"), (2000, 6.0, "3A090.a"),
    (2370, 2.9, "not controlled"), (3000, 2.0, "3A090.b"), (1700, 4.0, "3A090.b"),
    (1000, 10.0, "not controlled"), (2000, None, "unknown (die area not known)"),
])
def test_thresholds(t, pd, cls):
    assert policy.classify_values(t, pd) == cls


def test_worked_examples_from_the_rule():
    # H100 dense FP8 1979 TFLOPS -> TPP ~ 15 830; A100 INT8 624 TOPS -> ~ 4 990; H20 FP8 296 -> ~ 2 370
    h, which = policy.tpp("h100-sxm")
    assert h == pytest.approx(15830, rel=0.01) and which in ("fp8", "int8")
    assert policy.tpp("a100-80g-sxm")[0] == pytest.approx(4992, rel=0.01)
    assert policy.tpp("h20")[0] == pytest.approx(2368, rel=0.02)
    assert policy.classify("h100-sxm")["class"] == "3A090.a"
    assert policy.classify("h20")["class"] == "not controlled"
