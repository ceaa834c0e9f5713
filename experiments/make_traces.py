"""Write the bundled synthetic serving traces models/traces/{chat,summarization,reasoning}.csv.

Not an experiment: the generator of the traces `nmc serve --trace NAME` reads. Each trace is
2000 requests with Poisson arrivals and lognormal prompt and output lengths whose parameters
are nmc.workload.serving.SYNTHETIC (shapes and rationale in docs/serving.md, "Bundled
traces"); seed 0, so running this again writes the same files byte for byte."""
from __future__ import annotations

import argparse
from pathlib import Path

from nmc.workload.serving import SYNTHETIC, synthetic_trace, write_trace

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "traces"), help="output folder")
    ap.add_argument("-n", type=int, default=2000, help="requests per trace")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for kind, ((pm, pd, px), (om, od, ox), rate) in SYNTHETIC.items():
        tr = synthetic_trace(kind, args.n, args.seed)
        note = (f"synthetic '{kind}' trace made by experiments/make_traces.py (seed {args.seed}): "
                f"{args.n} requests, Poisson arrivals at {rate:g}/s,\nprompt lognormal mean "
                f"{pm} median {pd} max {px}, output lognormal mean {om} median {od} max {ox} "
                f"(tokens)")
        write_trace(out / f"{kind}.csv", tr, note)
        print(f"wrote {out / (kind + '.csv')}: prompt mean {tr['prompt_tokens'].mean():.0f}, "
              f"output mean {tr['output_tokens'].mean():.0f}, span {tr['arrival_s'][-1]:.0f} s")


if __name__ == "__main__":
    main()
