"""Copies the bundled data (models/llm, models/arch, models/measurements) into the package as
nmc/data/ when building a wheel, so a non-editable `pip install .` finds the presets.
A source checkout reads models/ directly (nmc/paths.py)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        src = Path(__file__).resolve().parent / "models"
        dst = Path(self.build_lib) / "nmc" / "data"
        for sub in ("llm", "arch", "measurements", "traces"):
            if (src / sub).is_dir():
                shutil.copytree(src / sub, dst / sub, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithData})
