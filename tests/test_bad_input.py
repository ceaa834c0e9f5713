"""Every subcommand of `nmc` against a table of user mistakes: exit status 2 and exactly one
line on stderr (`nmc: error: ...` or, for a usage mistake, `nmc <cmd>: error: ...`), never a
traceback. The README promises this ("Bad input ... gives one line ... and exit code 2")."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nmc.cli import COMMANDS, build_parser, main

DATA = Path(__file__).parent / "data"
MEAS = Path(__file__).resolve().parent.parent / "models" / "measurements"
M, A = "llama-2-7b", "h100-sxm"
TOY = str(DATA / "toy-arch.toml")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Broken inputs on disk, by name."""
    d = tmp_path_factory.mktemp("bad")
    f = {}

    def put(name, content, mode="w"):
        p = d / name
        if mode == "wb":
            p.write_bytes(content)
        else:
            p.write_text(content)
        f[name] = str(p)
        return p

    put("file", "just a file\n")
    f["missing"] = str(d / "missing.json")
    f["dir"] = str(d)
    f["nodir"] = str(d / "file" / "sub")               # a path below a regular file
    latin1 = "caf\xe9 \xff\xfe".encode("latin-1")
    # model configs
    put("cfg_bin.json", b'{"model_type": "llama", "name": "' + latin1 + b'"}', "wb")
    put("cfg_bad.json", '{"model_type": "llama", ')
    put("cfg_list.json", "[1, 2, 3]")
    put("cfg_nokeys.json", '{"model_type": "llama"}')
    put("cfg_unknown.json", '{"model_type": "zebra", "hidden_size": 64}')
    put("cfg_neg.json", '{"model_type": "llama", "hidden_size": -64, "num_hidden_layers": 2, '
        '"num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}')
    put("cfg_str.json", '{"model_type": "llama", "hidden_size": "big", "num_hidden_layers": 2, '
        '"num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}')
    # architecture presets
    toy = (DATA / "toy-arch.toml").read_text()
    put("arch_bin.toml", toy.encode() + b"\n# " + latin1 + b"\n", "wb")
    put("arch_bad.toml", "[compute\npeak_bf16 = 1")
    put("arch_key.toml", toy.replace("n_cores = 1", "n_cores = 1\nn_coers = 2"))
    put("arch_range.toml", toy.replace('mem_bw = "1 TB/s"', 'mem_bw = "-1 TB/s"'))
    put("arch_unit.toml", toy.replace('mem_bw = "1 TB/s"', 'mem_bw = "1 TB"'))
    put("arch_int.toml", toy.replace("devices_per_node = 8", "devices_per_node = 2.5"))
    put("arch_base.toml", 'base = "no-such-base.toml"\nname = "child"\n')
    put("arch_cycle.toml", 'base = "arch_cycle.toml"\nname = "loop"\n')
    put("arch_list.toml", 'name = ["x"]\n')
    # sweep specs
    put("spec_bin.toml", b'model = "llama-2-7b"\narch = "h100-sxm"\n# ' + latin1
        + b'\n[grid]\nbatch = [1]\n', "wb")
    put("spec_bad.toml", 'model = "llama-2-7b"\narch = \n')
    put("spec_key.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\ngird = 1\n[grid]\nbatch = [1]\n')
    put("spec_nogrid.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\n')
    put("spec_range.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\n[grid]\n'
        'mem_bw = { logspace = [0, 1e12, 5] }\n')
    put("spec_param.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\n[grid]\nmem_bandwidth = [1]\n')
    put("spec_tp.toml", 'model = "qwen2-0.5b"\narch = "h100-sxm"\n[grid]\ntp = [1, 7]\n')
    put("spec_dpn.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\n[grid]\n'
        'devices_per_node = [2.5]\n')
    put("spec_huge.toml", 'model = "llama-2-7b"\narch = "h100-sxm"\n[grid]\n'
        'batch = { linspace = [1, 1e6, 1000000] }\nmem_bw = { logspace = [1e12, 2e12, 100000] }\n')
    put("spec_ok.toml", f'model = "llama-2-7b"\narch = "{TOY}"\n[grid]\nbatch = [1, 2]\n'
        f'mem_bw = [1e12, 2e12]\ncontext = [128, 256]\n')
    # measurement CSVs
    header = (MEAS / "gpu_inference.csv").read_text().splitlines()[0]
    put("meas_bin.csv", (header + "\n").encode() + b"x," + latin1 + b"\n", "wb")
    put("meas_header.csv", "id,group,value\nx,gpu-decode,1\n")
    put("meas_empty.csv", "")
    put("meas_rows.csv", header + "\n" + "\n".join(
        ",".join(["r%d" % i, g] + [""] * (header.count(",") - 1))
        for i, g in enumerate(["gpu-decode", "nonsense-group"])) + "\n")
    # a sweep output, a damaged one, and a directory that is not one
    out = d / "sweep"
    assert main(["sweep", f["spec_ok.toml"], "-o", str(out), "-q", "--format", "csv"]) == 0
    f["sweep"] = str(out)
    dmg = d / "damaged"
    shutil.copytree(out, dmg)
    (dmg / "manifest.json").write_text("{oops")
    f["damaged"] = str(dmg)
    gone = d / "gone"
    shutil.copytree(out, gone)
    for c in gone.glob("chunk-*"):
        c.write_bytes(b"\xff\xfe\x00garbage")
    f["garbled"] = str(gone)
    return f


SCEN = ["--model", M, "--arch", A]

# (id, argv); {name} is replaced by files[name]
CASES = [
    # list
    ("list-what", ["list", "presets"]),
    ("list-format", ["list", "archs", "--format", "yaml"]),
    # analyze: models
    ("an-model-unknown", ["analyze", "--model", "llama-9b", "--arch", A]),
    ("an-model-missing", ["analyze", "--model", "{missing}", "--arch", A]),
    ("an-model-dir", ["analyze", "--model", "{dir}", "--arch", A]),
    ("an-model-bin", ["analyze", "--model", "{cfg_bin.json}", "--arch", A]),
    ("an-model-json", ["analyze", "--model", "{cfg_bad.json}", "--arch", A]),
    ("an-model-list", ["analyze", "--model", "{cfg_list.json}", "--arch", A]),
    ("an-model-keys", ["analyze", "--model", "{cfg_nokeys.json}", "--arch", A]),
    ("an-model-type", ["analyze", "--model", "{cfg_unknown.json}", "--arch", A]),
    ("an-model-neg", ["analyze", "--model", "{cfg_neg.json}", "--arch", A]),
    ("an-model-str", ["analyze", "--model", "{cfg_str.json}", "--arch", A]),
    ("an-assume", ["analyze", "--model", M, "--arch", A, "--assume", "zebra"]),
    ("an-model-empty", ["analyze", "--model", "", "--arch", A]),
    # analyze: architectures
    ("an-arch-unknown", ["analyze", "--model", M, "--arch", "h900"]),
    ("an-arch-missing", ["analyze", "--model", M, "--arch", "{missing}"]),
    ("an-arch-dir", ["analyze", "--model", M, "--arch", "{dir}"]),
    ("an-arch-bin", ["analyze", "--model", M, "--arch", "{arch_bin.toml}"]),
    ("an-arch-toml", ["analyze", "--model", M, "--arch", "{arch_bad.toml}"]),
    ("an-arch-key", ["analyze", "--model", M, "--arch", "{arch_key.toml}"]),
    ("an-arch-range", ["analyze", "--model", M, "--arch", "{arch_range.toml}"]),
    ("an-arch-unit", ["analyze", "--model", M, "--arch", "{arch_unit.toml}"]),
    ("an-arch-int", ["analyze", "--model", M, "--arch", "{arch_int.toml}"]),
    ("an-arch-base", ["analyze", "--model", M, "--arch", "{arch_base.toml}"]),
    ("an-arch-cycle", ["analyze", "--model", M, "--arch", "{arch_cycle.toml}"]),
    ("an-arch-type", ["analyze", "--model", M, "--arch", "{arch_list.toml}"]),
    # analyze: scenario
    ("an-batch-0", SCEN + ["--batch", "0"]),
    ("an-batch-neg", SCEN + ["--batch", "-4"]),
    ("an-batch-frac", SCEN + ["--batch", "1.5"]),
    ("an-batch-text", SCEN + ["--batch", "many"]),
    ("an-batch-two", SCEN + ["--batch", "1,2"]),
    ("an-batch-inf", SCEN + ["--batch", "inf"]),
    ("an-batch-nan", SCEN + ["--batch", "nan"]),
    ("an-batch-huge", SCEN + ["--batch", "1e30"]),
    ("an-tp-0", SCEN + ["--tp", "0"]),
    ("an-tp-7", ["analyze", "--model", "qwen2-0.5b", "--arch", A, "--tp", "7"]),
    ("an-tp-3", SCEN + ["--tp", "3"]),
    ("an-tp-link", ["analyze", "--model", M, "--arch", "apple-m2-ultra", "--tp", "2"]),
    ("an-context-neg", SCEN + ["--context", "-1"]),
    ("an-prompt-0", SCEN + ["--phase", "prefill", "--prompt", "0"]),
    ("an-generate-0", SCEN + ["--phase", "generate", "--generate", "0"]),
    ("an-phase", SCEN + ["--phase", "train"]),
    ("an-weights", SCEN + ["--weights", "fp7"]),
    ("an-kv", SCEN + ["--kv", "int3"]),
    ("an-activations", SCEN + ["--activations", "int4x"]),
    ("an-dequant", SCEN + ["--dequant", "magic"]),
    ("an-dequant-neg", SCEN + ["--dequant", "-3"]),
    ("an-mapping", SCEN + ["--mapping", "pim-gemv"]),
    ("an-runtime", SCEN + ["--runtime", "jit"]),
    ("an-format", SCEN + ["--format", "yaml"]),
    # --set
    ("set-tp", SCEN + ["--set", "tp=2"]),
    ("set-batch", SCEN + ["--set", "batch=8"]),
    ("set-phase", SCEN + ["--set", "phase=prefill"]),
    ("set-weights", SCEN + ["--set", "weights=int4"]),
    ("set-unknown", SCEN + ["--set", "mem_bandwidth=3e12"]),
    ("set-noeq", SCEN + ["--set", "mem_bw"]),
    ("set-text", SCEN + ["--set", "mem_bw=fast"]),
    ("set-unit", SCEN + ["--set", "mem_bw=3 TB"]),
    ("set-neg", SCEN + ["--set", "mem_bw=-1"]),
    ("set-nan", SCEN + ["--set", "mem_bw=nan"]),
    ("set-inf", SCEN + ["--set", "mem_bw=inf"]),
    ("set-int", SCEN + ["--set", "devices_per_node=2.5"]),
    ("set-name", SCEN + ["--set", "name=x"]),
    ("set-empty", SCEN + ["--set", "=3"]),
    ("set-model-dim", SCEN + ["--set", "hidden_size=4096"]),
    # compare
    ("cmp-model", ["compare", "--model", "llama-2-7b,nope", "--arch", A]),
    ("cmp-arch", ["compare", "--model", M, "--arch", "h100-sxm,,h9"]),
    ("cmp-batch", ["compare", "--model", M, "--arch", A, "--batch", "1,x"]),
    ("cmp-set-tp", ["compare", "--model", M, "--arch", A, "--set", "tp=2"]),
    ("cmp-out-nodir", ["compare", "--model", M, "--arch", A, "-o", "{nodir}/c.png"]),
    ("cmp-tp-7", ["compare", "--model", "qwen2-0.5b", "--arch", A, "--tp", "7"]),
    ("cmp-empty", ["compare", "--model", ",", "--arch", A]),
    # roofline
    ("roof-arch", ["roofline", "--model", M, "--arch", "h100-sxm,bogus"]),
    ("roof-out-nodir", ["roofline", "--model", M, "--arch", A, "-o", "{nodir}/r.png"]),
    ("roof-set", ["roofline", "--model", M, "--arch", A, "--set", "batch=2"]),
    ("roof-batch", ["roofline", "--model", M, "--arch", A, "--batch", "0"]),
    # serve
    ("srv-rate", ["serve", "--model", M, "--arch", A, "--rate", "fast"]),
    ("srv-rate-neg", ["serve", "--model", M, "--arch", A, "--rate", "-2"]),
    ("srv-no-load", ["serve", "--model", M, "--arch", A]),
    ("srv-trace", ["serve", "--model", M, "--arch", A, "--trace", "{missing}"]),
    ("srv-trace-bin", ["serve", "--model", M, "--arch", A, "--trace", "{meas_bin.csv}"]),
    ("srv-trace-name", ["serve", "--model", M, "--arch", A, "--trace", "chatty"]),
    ("srv-prompt", ["serve", "--model", M, "--arch", A, "--rate", "1", "--prompt", "uniform:9"]),
    ("srv-prompt-neg", ["serve", "--model", M, "--arch", A, "--rate", "1", "--prompt", "-5"]),
    ("srv-sched", ["serve", "--model", M, "--arch", A, "--rate", "1", "--scheduler", "fifo"]),
    ("srv-maxbatch", ["serve", "--model", M, "--arch", A, "--rate", "1", "--max-batch", "0"]),
    ("srv-slo", ["serve", "--model", M, "--arch", A, "--rate", "1", "--slo-ttft", "-1"]),
    ("srv-tp", ["serve", "--model", "qwen2-0.5b", "--arch", A, "--rate", "1", "--tp", "7"]),
    ("srv-set", ["serve", "--model", M, "--arch", A, "--rate", "1", "--set", "tp=2"]),
    ("srv-series", ["serve", "--model", M, "--arch", A, "--rate", "1", "--n-requests", "5",
                    "--series", "{nodir}/s.csv"]),
    ("srv-requests", ["serve", "--model", M, "--arch", A, "--rate", "1", "--n-requests", "5",
                      "--requests", "{nodir}/r.csv"]),
    ("srv-nreq", ["serve", "--model", M, "--arch", A, "--rate", "1", "--n-requests", "0"]),
    ("srv-swap-bw", ["serve", "--model", M, "--arch", A, "--rate", "1", "--swap-bw", "fast"]),
    ("srv-price", ["serve", "--model", M, "--arch", A, "--rate", "1", "--price-per-hour", "x"]),
    ("srv-model", ["serve", "--model", "{cfg_bin.json}", "--arch", A, "--rate", "1"]),
    # train
    ("tr-devices", ["train", "--model", M, "--arch", A, "--devices", "0", "--global-batch", "8",
                    "--seq", "2048"]),
    ("tr-gb", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "0",
               "--seq", "2048"]),
    ("tr-seq", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                "--seq", "-1"]),
    ("tr-tp", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
               "--seq", "2048", "--tp", "3"]),
    ("tr-tp-list", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                    "--seq", "2048", "--tp", "1,2"]),
    ("tr-recompute", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch",
                      "8", "--seq", "2048", "--recompute", "some"]),
    ("tr-zero", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                 "--seq", "2048", "--zero", "5"]),
    ("tr-tokens", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                   "--seq", "2048", "--tokens", "lots"]),
    ("tr-dtype", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                  "--seq", "2048", "--dtype", "fp4"]),
    ("tr-set", ["train", "--model", M, "--arch", A, "--devices", "8", "--global-batch", "8",
                "--seq", "2048", "--set", "tp=2"]),
    ("tr-arch", ["train", "--model", M, "--arch", "{arch_bin.toml}", "--devices", "8",
                 "--global-batch", "8", "--seq", "2048"]),
    # sweep
    ("sw-missing", ["sweep", "{missing}", "-o", "{dir}/o1"]),
    ("sw-dir", ["sweep", "{dir}", "-o", "{dir}/o2"]),
    ("sw-bin", ["sweep", "{spec_bin.toml}", "-o", "{dir}/o3"]),
    ("sw-toml", ["sweep", "{spec_bad.toml}", "-o", "{dir}/o4"]),
    ("sw-key", ["sweep", "{spec_key.toml}", "-o", "{dir}/o5"]),
    ("sw-nogrid", ["sweep", "{spec_nogrid.toml}", "-o", "{dir}/o6"]),
    ("sw-range", ["sweep", "{spec_range.toml}", "-o", "{dir}/o7"]),
    ("sw-param", ["sweep", "{spec_param.toml}", "-o", "{dir}/o8"]),
    ("sw-tp", ["sweep", "{spec_tp.toml}", "-o", "{dir}/o9"]),
    ("sw-dpn", ["sweep", "{spec_dpn.toml}", "-o", "{dir}/o10"]),
    ("sw-huge", ["sweep", "{spec_huge.toml}", "-o", "{dir}/o11"]),
    ("sw-threads", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o12", "--threads", "999"]),
    ("sw-threads-0", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o13", "--threads", "0"]),
    ("sw-chunk", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o14", "--chunk-size", "0"]),
    ("sw-columns", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o15", "--columns", "speed"]),
    ("sw-out-nodir", ["sweep", "{spec_ok.toml}", "-o", "{nodir}"]),
    ("sw-out-file", ["sweep", "{spec_ok.toml}", "-o", "{file}"]),
    ("sw-other", ["sweep", "{spec_range.toml}", "-o", "{sweep}"]),
    ("sw-max-mem", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o16", "--max-memory", "lots"]),
    ("sw-max-disk", ["sweep", "{spec_ok.toml}", "-o", "{dir}/o17", "--max-disk", "1 B"]),
    ("sw-different", ["sweep", "{spec_tp.toml}", "-o", "{sweep}"]),
    ("sw-damaged", ["sweep", "{spec_ok.toml}", "-o", "{damaged}"]),
    # plot
    ("plot-missing", ["plot", "{missing}", "--x", "batch", "--metric", "tokens_per_s"]),
    ("plot-notsweep", ["plot", "{dir}", "--x", "batch", "--metric", "tokens_per_s"]),
    ("plot-damaged", ["plot", "{damaged}", "--x", "batch", "--metric", "tokens_per_s"]),
    ("plot-garbled", ["plot", "{garbled}", "--x", "batch", "--metric", "tokens_per_s"]),
    ("plot-metric", ["plot", "{sweep}", "--x", "batch", "--metric", "speed"]),
    ("plot-x", ["plot", "{sweep}", "--x", "bandwidth", "--metric", "tokens_per_s"]),
    ("plot-x-result", ["plot", "{sweep}", "--x", "latency_s", "--y", "batch", "--metric",
                       "tokens_per_s", "--kind", "heatmap"]),
    ("plot-where", ["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s", "--where",
                    "context"]),
    ("plot-where-param", ["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s",
                          "--where", "tp=2"]),
    ("plot-where-value", ["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s",
                          "--where", "context=abc"]),
    ("plot-heat-noy", ["plot", "{sweep}", "--kind", "heatmap", "--x", "batch", "--metric",
                       "tokens_per_s"]),
    ("plot-same-xy", ["plot", "{sweep}", "--kind", "heatmap", "--x", "batch", "--y", "batch",
                      "--metric", "tokens_per_s"]),
    ("plot-out-nodir", ["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s", "-o",
                        "{nodir}/p.png"]),
    ("plot-by", ["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s", "--by", "nope"]),
    ("plot-pareto", ["plot", "{sweep}", "--kind", "pareto", "--x", "speed"]),
    # search
    ("se-param", ["search"] + SCEN + ["--param", "mem_bandwith", "--target", "20"]),
    ("se-param-scen", ["search"] + SCEN + ["--param", "batch", "--target", "20"]),
    ("se-metric", ["search"] + SCEN + ["--param", "mem_bw", "--target", "20", "--metric", "x"]),
    ("se-lo", ["search"] + SCEN + ["--param", "mem_bw", "--target", "20", "--lo", "cheap"]),
    ("se-lohi", ["search"] + SCEN + ["--param", "mem_bw", "--target", "20", "--lo", "5e12",
                                    "--hi", "1e12"]),
    ("se-target", ["search"] + SCEN + ["--param", "mem_bw", "--target", "nan"]),
    ("se-set", ["search"] + SCEN + ["--param", "mem_bw", "--target", "20", "--set", "tp=abc"]),
    ("se-batch", ["search"] + SCEN + ["--param", "mem_bw", "--target", "20", "--batch", "1,2"]),
    # bench
    ("bench-opt", ["bench", "--fast"]),
    ("bench-arg", ["bench", "quick"]),
    # validate
    ("val-missing", ["validate", "--data", "{missing}"]),
    ("val-dir", ["validate", "--data", "{dir}"]),
    ("val-bin", ["validate", "--data", "{meas_bin.csv}"]),
    ("val-header", ["validate", "--data", "{meas_header.csv}"]),
    ("val-empty", ["validate", "--data", "{meas_empty.csv}"]),
    ("val-group", ["validate", "--group", "gpu-decod"]),
    ("val-out", ["validate", "--group", "aimc", "-o", "{nodir}"]),
    ("val-out-file", ["validate", "--group", "aimc", "-o", "{file}"]),
    ("val-split", ["validate", "--split", "test"]),
    # calibrate
    ("cal-data", ["calibrate", "--arch", A, "--data", "{missing}"]),
    ("cal-bin", ["calibrate", "--arch", A, "--data", "{meas_bin.csv}"]),
    ("cal-params", ["calibrate", "--arch", A, "--data", str(MEAS / "gpu_inference.csv"),
                    "--params", "eff_speed"]),
    ("cal-arch", ["calibrate", "--arch", "h900", "--data", str(MEAS / "gpu_inference.csv")]),
    ("cal-out", ["calibrate", "--arch", "a100-80g-sxm", "--data",
                 str(MEAS / "gpu_inference.csv"), "--group", "gpu-decode", "-o",
                 "{nodir}/c.toml"]),
    ("cal-group", ["calibrate", "--arch", A, "--data", str(MEAS / "gpu_inference.csv"),
                   "--group", "nothing"]),
    # aimc
    ("aimc-what", ["aimc", "program", "--arch", "ibm-hermes"]),
    ("aimc-arch", ["aimc", "chip", "--arch", "ibm-hermez"]),
    ("aimc-gpu", ["aimc", "chip", "--arch", A]),
    ("aimc-batch", ["aimc", "train", "--arch", "aimc-edge-projected", "--model", "llama-3.2-1b",
                    "--batch", "0"]),
    ("aimc-set", ["aimc", "chip", "--arch", "ibm-hermes", "--set", "aimc_tiles=-3"]),
    ("aimc-model", ["aimc", "train", "--arch", "aimc-edge-projected", "--model", "{cfg_bad.json}"]),
    # pim
    ("pim-arch", ["pim", "--arch", "hbm4-pim"]),
    ("pim-gpu", ["pim", "--arch", A, "--model", M]),
    ("pim-context", ["pim", "--arch", "h100+hbm3-pim", "--model", M, "--context", "-5"]),
    ("pim-model", ["pim", "--arch", "h100+hbm3-pim", "--model", "llama-0b"]),
    # policy
    ("pol-arch", ["policy", "--arch", "h100-sxm,h9"]),
    ("pol-empty", ["policy", "--arch", ","]),      # `nmc policy` alone lists the default parts
    ("pol-cap", ["policy", "--cap", "-5", "--model", "llama-3-8b"]),
    ("pol-pim", ["policy", "--cap", "4800", "--model", "llama-3-8b", "--pim", "0,x"]),
    ("pol-cores", ["policy", "--cap", "4800", "--model", "llama-3-8b", "--cores", "many"]),
    ("pol-base", ["policy", "--cap", "4800", "--model", "llama-3-8b", "--base", "{arch_bin.toml}"]),
    ("pol-area", ["policy", "--arch", A, "--die-area", "-1"]),
    # report
    ("rep-out-nodir", ["report", "--quick", "-o", "{nodir}"]),
    ("rep-out-file", ["report", "--quick", "-o", "{file}"]),
    # explore
    ("exp-port", ["explore", "--port", "99999", "--no-browser"]),
    ("exp-port-text", ["explore", "--port", "http"]),
    # the top level
    ("top-cmd", ["analyse"]),
    ("top-none", []),
]


def _fill(arg: str, files: dict) -> str:
    for k, v in files.items():
        arg = arg.replace("{" + k + "}", v)
    assert "{" not in arg, arg
    return arg


def _subcommands() -> set[str]:
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "cmd")
    return set(sub.choices)


def test_every_subcommand_is_in_the_table():
    covered = {argv[0] for _, argv in CASES if argv}
    assert _subcommands() <= covered, sorted(_subcommands() - covered)
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, files, capsys):
    argv = [_fill(a, files) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as e:                 # argparse: usage mistakes
        rc = e.code
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err + out
    assert rc == 2, (rc, err, out[-500:])
    assert len(lines) == 1, err
    assert lines[0].startswith("nmc") and ": error: " in lines[0], lines[0]


@pytest.mark.parametrize("argv,made", [
    (["compare", "--model", M, "--arch", A, "-o", "{dir}/figs"], "figs/compare.png"),
    (["compare", "--model", M, "--arch", A, "-o", "{dir}/odd.name"], "odd.png"),
    (["roofline", "--model", M, "--arch", A, "-o", "{dir}/figs"], "figs/roofline.png"),
    (["plot", "{sweep}", "--x", "batch", "--metric", "tokens_per_s", "-o", "{dir}/figs"],
     "figs/line.png"),
    (["serve", "--model", M, "--arch", A, "--rate", "1", "--n-requests", "5", "--plot",
      "{dir}/figs"], "figs/series.png"),
], ids=["compare-dir", "compare-suffix", "roofline-dir", "plot-dir", "serve-plot-dir"])
def test_an_existing_directory_gets_the_default_file_name(argv, made, files, capsys):
    """-o naming an existing directory writes the figure inside it under its default name (a
    PNG with an SVG beside it; an unknown suffix becomes .png): not an error."""
    (Path(files["dir"]) / "figs").mkdir(exist_ok=True)
    assert main([_fill(a, files) for a in argv]) == 0
    capsys.readouterr()
    png = Path(files["dir"]) / made
    assert png.is_file() and png.stat().st_size > 1000
    assert png.with_suffix(".svg").is_file()
