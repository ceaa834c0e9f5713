"""Where the bundled data lives (models/ in a source checkout, nmc/data/ in an installed wheel), and
where output goes: output_dir / output_file make a path writable or say why in one line."""
from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir() -> Path:
    """Root holding llm/, arch/, measurements/ and traces/."""
    repo = _PKG.parent / "models"
    if (repo / "llm").is_dir():
        return repo
    return _PKG / "data"


def llm_dir() -> Path:
    return data_dir() / "llm"


def arch_dir() -> Path:
    return data_dir() / "arch"


def measurements_dir() -> Path:
    return data_dir() / "measurements"


def traces_dir() -> Path:
    return data_dir() / "traces"


def _why_not_dir(p: Path, err: OSError) -> str:
    """Why p could not be made a directory, in words: the first ancestor that is a file, or the
    system's reason."""
    for a in [p, *p.parents]:
        if a.exists():
            if not a.is_dir():
                return f"{a} is a file, not a directory"
            break
    return err.strerror or str(err)


def output_dir(path) -> Path:
    """A directory about to be written into: created (with its parents) and writable, or a
    ConfigError naming the path and why (never an OSError)."""
    from .errors import ConfigError
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{p}: exists and is not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{p}: cannot create the directory ({_why_not_dir(p, e)})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"{p}: the directory is not writable")
    return p


def output_file(path, default_name: str | None = None) -> Path:
    """A file about to be written: its directory created and writable. An existing directory
    gets default_name inside it (without one, it is an error)."""
    from .errors import ConfigError
    p = Path(path)
    if str(path).strip() == "":
        raise ConfigError("empty output path")
    if p.is_dir():
        if default_name is None:
            raise ConfigError(f"{p}: is a directory; give a file name")
        p = p / default_name
    output_dir(p.parent if str(p.parent) else ".")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{p}: the file is not writable")
    return p


def write_error(path, e: OSError):
    """The ConfigError for an OSError raised while writing path."""
    from .errors import ConfigError
    return ConfigError(f"{path}: cannot write ({e.strerror or e})")


def read_text(path, what: str = "file") -> str:
    """The text of a UTF-8 file, or a ConfigError naming the path and why (missing, a
    directory, unreadable, not UTF-8 text: with the line of the first bad byte)."""
    from .errors import ConfigError
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a directory, not a {what}")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); "
                          f"save the {what} as UTF-8") from None
