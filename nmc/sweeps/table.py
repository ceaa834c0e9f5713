"""The columnar result table of a sweep (dict of NumPy arrays; label columns decoded)."""
from __future__ import annotations

import numpy as np

from ..engine.layout import BOUND_NAMES


class Table:
    """Columns of equal length (dict of NumPy arrays). Label columns (model, arch, phase,
    dtypes, mapping) are stored as codes and returned decoded as strings by table[name]."""

    def __init__(self, columns: dict[str, np.ndarray], labels: dict[str, list[str]] | None = None,
                 meta: dict | None = None):
        self.columns = dict(columns)
        self.labels = dict(labels or {})
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def keys(self):
        return self.columns.keys()

    def __iter__(self):
        return iter(self.columns)

    def __contains__(self, k) -> bool:
        return k in self.columns

    def __getitem__(self, k: str) -> np.ndarray:
        if k not in self.columns:
            raise KeyError(f"no column {k!r}; columns: {', '.join(self.columns)}")
        v = self.columns[k]
        if k in self.labels:
            return np.asarray(self.labels[k], dtype=object)[v.astype(np.int64)]
        if k == "bound":
            return np.asarray(BOUND_NAMES, dtype=object)[v.astype(np.int64)]
        return v

    def codes(self, k: str) -> np.ndarray:
        return self.columns[k]

    @property
    def params(self) -> list[str]:
        return list(self.meta.get("params", []))

    def where(self, mask) -> Table:
        return Table({k: v[mask] for k, v in self.columns.items()}, self.labels, self.meta)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {k: self[k] for k in self.columns}

    def to_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Table.to_pandas() needs pandas: pip install 'nmc[pandas]'") from None
        data = {}
        for k in self.columns:
            if k in self.labels or k == "bound":
                data[k] = pd.Categorical(self[k])
            else:
                data[k] = self.columns[k]
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        return f"Table({len(self)} rows; columns: {', '.join(self.columns)})"

