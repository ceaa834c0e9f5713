"""Architecture side: the parameter schema and preset loading."""
from .loader import Architecture, load_arch, list_archs  # noqa: F401
from .schema import PARAMS, INDEX, BY_NAME  # noqa: F401
