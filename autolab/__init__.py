"""autolab — closed-loop autonomous nanocrystal synthesis on Bluesky.

Subpackages: :mod:`autolab.devices` (ophyd devices and twins), :mod:`autolab.plans` (Bluesky
plans), :mod:`autolab.sim` (physics twin), :mod:`autolab.catalog` (tiled catalog),
:mod:`autolab.plugins` (built-in analysis plugins). Importing ``autolab`` builds nothing.
"""

from .errors import AutolabError, CatalogError, LimitError, ReactorFault

__version__ = "0.1.0"
__all__ = ["AutolabError", "CatalogError", "LimitError", "ReactorFault", "__version__"]
