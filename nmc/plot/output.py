"""Writing a figure: PNG with an SVG beside it (or the one format the suffix names), into a
folder that is created; an existing directory gets the default file name inside it; every
write error is one line (ConfigError), never an OSError."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..paths import output_file, write_error  # noqa: E402

SUFFIXES = (".png", ".svg", ".pdf")


def save_figure(fig, path, default_name: str = "figure.png", dpi: int = 140,
                svg: bool = True) -> list[Path]:
    """Save fig at path: a .png path also writes path.svg (unless svg=False); .svg or .pdf
    write that format only; any other suffix is replaced by .png. Returns the paths."""
    p = output_file(path, default_name)
    if p.suffix.lower() not in SUFFIXES:
        p = p.with_suffix(".png")
    outs = [p] if p.suffix.lower() != ".png" or not svg else [p, p.with_suffix(".svg")]
    try:
        for o in outs:
            fig.savefig(o, dpi=dpi, bbox_inches="tight")
    except OSError as e:
        raise write_error(o, e) from None
    finally:
        plt.close(fig)
    return outs
