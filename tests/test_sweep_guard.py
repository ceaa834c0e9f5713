"""Guarded sweeps (nmc/sweeps/guard.py): huge grids are refused at once, naming the numbers and
the flag that raises the limit; estimates; no stale .lock on any way out of a sweep."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nmc
from nmc import sweeps as sw
from nmc.cli import main
from nmc.errors import ConfigError
from nmc.sweeps.guard import DISK_BYTES_PER_VALUE, Limits, SweepTooLarge, estimate, grid_size

HUGE16 = """model = "llama-2-7b"
arch = "h100-sxm"
[scenario]
phase = "decode"
[grid]
mem_bw = { logspace = ["1 TB/s", "32 TB/s", 10000] }
peak_bf16 = { logspace = ["100 TFLOPS", "4000 TFLOPS", 10000] }
batch = { linspace = [1, 10000, 10000] }
context = { linspace = [1, 1050000, 10500] }
"""
HUGE12 = HUGE16.replace("10000] }", "1000] }").replace("10500", "1050")


def _cli(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


@pytest.mark.parametrize("text,points", [(HUGE16, "1.05e+16"), (HUGE12, "1.05e+12")])
def test_huge_spec_is_refused_at_once(text, points, tmp_path, capsys):
    spec = tmp_path / "huge.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    t = time.perf_counter()
    rc, err = _cli(["sweep", str(spec), "-o", str(out)], capsys)
    assert time.perf_counter() - t < 5
    assert rc == 2 and len(err) == 1
    assert f"{points} points > the limit of 1e+10" in err[0] and "--max-points" in err[0]
    assert not out.exists()                     # nothing created, so no lock either


def test_raised_point_limit_meets_the_disk_and_time_limits(tmp_path, capsys):
    spec = tmp_path / "huge.toml"
    spec.write_text(HUGE12)
    out = tmp_path / "out"
    rc, err = _cli(["sweep", str(spec), "-o", str(out), "--max-points", "1e13"], capsys)
    assert rc == 2 and len(err) == 1 and "--max-disk" in err[0] and "free" in err[0]
    rc, err = _cli(["sweep", str(spec), "-o", str(out), "--max-points", "1e13",
                    "--max-disk", "10 PB"], capsys)
    assert rc == 2 and len(err) == 1 and "--max-hours" in err[0]
    assert not out.exists()


def test_python_sweep_is_refused_and_limits_raise_with_keywords(toy_arch):
    grid = {"mem_bw": {"logspace": [1e12, 2e12, 100000]}, "batch": {"linspace": [1, 1e5, 1000]},
            "context": {"linspace": [1, 1000, 1000]}}
    assert grid_size("llama-2-7b", toy_arch, grid)[0] == 1e11
    with pytest.raises(SweepTooLarge, match=r"1e\+11 points > the limit of 1e\+10 .*max_points="):
        nmc.sweep("llama-2-7b", toy_arch, grid)
    # in memory: 2 x points x columns x 8 B, against max_memory
    small = {"batch": [1, 2, 3, 4]}
    with pytest.raises(SweepTooLarge, match=r"of memory \(results kept in memory\).*max_memory="):
        nmc.sweep("llama-2-7b", toy_arch, small, max_memory="10 kB")
    t = nmc.sweep("llama-2-7b", toy_arch, small, max_memory="1 GB", max_points=4)
    assert len(t) == 4
    with pytest.raises(SweepTooLarge, match="4 points > the limit of 3"):
        nmc.sweep("llama-2-7b", toy_arch, small, max_points=3)
    with pytest.raises(ConfigError, match="max_memory"):
        nmc.sweep("llama-2-7b", toy_arch, small, max_memory="lots")


def test_estimate_counts_points_columns_and_bytes(toy_arch, tmp_path):
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2, 4], "mem_bw": [1e12, 2e12]})
    ncols = len(plan.result_columns)
    e = estimate(plan, tmp_path / "o", fmt="csv", precision="float64")
    assert e.points == e.remaining == 6
    assert e.disk_bytes == pytest.approx(6 * ncols * DISK_BYTES_PER_VALUE[("csv", "float64")])
    e = estimate(plan, tmp_path / "o", fmt="csv", precision="float64", done_points=4)
    assert e.remaining == 2 and e.disk_bytes == pytest.approx(2 * ncols * 13.0)
    mem = estimate(plan, None)
    assert mem.disk_bytes == 0 and mem.memory_bytes >= 2 * 6 * ncols * 8
    # the estimate is honest about a real CSV sweep: within 2x of the bytes written
    sw.run(plan, tmp_path / "real", fmt="csv", progress=False)
    written = sum(f.stat().st_size for f in (tmp_path / "real").glob("chunk-*"))
    e = estimate(plan, tmp_path / "real", fmt="csv", precision="float64")
    assert written / 2 < e.disk_bytes < written * 2


def test_estimate_flag_runs_nothing(tmp_path, capsys, toy_arch):
    spec = tmp_path / "s.toml"
    spec.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\n[grid]\nbatch = [1, 2]\n')
    rc = main(["sweep", str(spec), "-o", str(tmp_path / "o"), "--estimate"])
    err = capsys.readouterr().err
    assert rc == 0 and "2 points" in err and "within the limits" in err
    assert not (tmp_path / "o").exists()


def test_limits_checked():
    with pytest.raises(ConfigError, match="max_points must be >= 1"):
        Limits.of(max_points=0)
    with pytest.raises(ConfigError, match="max_disk must be > 0"):
        Limits.of(max_disk="0 GB")
    assert Limits.of(max_disk="2 TB").disk("/") == 2e12
    assert math.isfinite(Limits().memory()) and Limits().memory() > 0


# -- no stale lock ----------------------------------------------------------------------------

def test_no_lock_after_errors_before_and_after_it_is_taken(toy_arch, tmp_path):
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2]})
    with pytest.raises(ConfigError, match="format"):                 # before: bad format
        sw.run(plan, tmp_path / "a", fmt="xml", progress=False)
    assert not (tmp_path / "a").exists()
    sw.run(plan, tmp_path / "b", fmt="csv", progress=False)
    other = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 3]})
    with pytest.raises(ConfigError, match="different sweep"):        # after: checked under lock
        sw.run(other, tmp_path / "b", fmt="csv", progress=False)
    assert not (tmp_path / "b" / ".lock").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="damaged manifest"):
        sw.run(plan, tmp_path / "c", fmt="csv", progress=False)
    assert not (tmp_path / "c" / ".lock").exists()


def test_no_lock_after_interrupt_and_resume_is_exact(toy_arch, tmp_path):
    grid = {"batch": [1, 2, 3, 4, 5, 6], "mem_bw": [1e12, 2e12]}
    plan = sw.make_plan("llama-2-7b", toy_arch, grid)
    with pytest.raises(KeyboardInterrupt):
        sw.run(plan, tmp_path, fmt="csv", chunk_size=2, progress=False, _stop_after=2)
    assert not (tmp_path / ".lock").exists()
    man = sw.run(plan, tmp_path, fmt="csv", chunk_size=2, progress=False)
    assert man["complete"] and len(man["chunks"]) == 6
    full = nmc.sweep("llama-2-7b", toy_arch, grid)
    assert list(sw.load(tmp_path)["tokens_per_s"]) == list(full["tokens_per_s"])


def test_output_errors_are_one_line_and_leave_no_lock(toy_arch, tmp_path):
    plan = sw.make_plan("llama-2-7b", toy_arch, {"batch": [1, 2]})
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="not a directory|Not a directory"):
        sw.run(plan, f / "sub", fmt="csv", progress=False)
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        sw.run(plan, f, fmt="csv", progress=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that writes read-only directories")
        with pytest.raises(ConfigError, match="not writable"):
            sw.run(plan, ro, fmt="csv", progress=False)
        assert not (ro / ".lock").exists()
    finally:
        ro.chmod(0o700)


def test_threads_out_of_range_is_an_error(toy_arch):
    import numba
    top = numba.config.NUMBA_NUM_THREADS
    with pytest.raises(ConfigError, match=f"threads must be an integer from 1 to {top}"):
        nmc.sweep("llama-2-7b", toy_arch, {"batch": [1]}, threads=top + 997)
    with pytest.raises(ConfigError, match="threads"):
        sw.set_threads(0)


def test_sigterm_unwinds_a_running_sweep_and_removes_its_lock(tmp_path, toy_arch):
    spec = tmp_path / "s.toml"
    spec.write_text(f'model = "llama-2-7b"\narch = "{toy_arch}"\n[scenario]\nphase = "generate"\n'
                    f'generate = 4000\n[grid]\nbatch = {{ linspace = [1, 4000, 4000] }}\n'
                    f'mem_bw = {{ logspace = [1e12, 8e12, 50] }}\n')
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-m", "nmc", "sweep", str(spec), "-o", str(out), "-q",
                          "--format", "csv", "--chunk-size", "64", "--max-hours", "1e6"],
                         stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if (out / ".lock").exists() or p.poll() is not None:
                break
            time.sleep(0.1)
        assert (out / ".lock").exists(), p.stderr.read() if p.poll() is not None else "no lock"
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert rc == 130
    assert p.stderr.read().strip().splitlines()[-1] == "nmc: interrupted"
    assert not (out / ".lock").exists()
    assert Path(out / "manifest.json").exists()
