"""The run catalog: an embedded tiled catalog on disk by default, or a tiled server.

Catalog locations, in order of precedence: the ``catalog`` argument (``--catalog`` on the
command line), the ``AUTOLAB_CATALOG`` environment variable, then ``$XDG_DATA_HOME/autolab/catalog``
(``~/.local/share/autolab/catalog``). A folder is resolved to an absolute path before it is
used (:func:`resolve_location`), and a moved folder still opens. A location starting with
``http://`` or ``https://`` is a tiled server (``autolab serve``), reached with an API key from
``api_key`` or ``TILED_API_KEY``; the same code path writes and reads it.

Modules: :mod:`~autolab.catalog.location` (locations and opening),
:mod:`~autolab.catalog.writer` (the journaled writer), :mod:`~autolab.catalog.reading`
(reading back), :mod:`~autolab.catalog.export` (files for other programs) and
:mod:`~autolab.catalog.serve` (``autolab serve``).
"""

from __future__ import annotations

from .export import export_run, stream_dataset
from .location import (
    CATALOG_ENV,
    default_location,
    frames_directory,
    is_remote,
    journal_directory,
    open_catalog,
    relocate,
    resolve_location,
)
from .reading import PointData, find_runs, last_scan_id, load_point, measurements, run_summaries
from .writer import CatalogWriter

__all__ = [
    "CATALOG_ENV",
    "CatalogWriter",
    "PointData",
    "default_location",
    "export_run",
    "find_runs",
    "frames_directory",
    "is_remote",
    "journal_directory",
    "last_scan_id",
    "load_point",
    "measurements",
    "open_catalog",
    "relocate",
    "resolve_location",
    "run_summaries",
    "stream_dataset",
]
