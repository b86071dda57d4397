"""Let tiled create an array where a creation that never committed left its files.

tiled (0.2) creates an array node in one request: it stores the node in an open transaction
(``flush``, so that a node already at that path is refused as a collision), makes the array's zarr
files under the writable storage, then commits. A server killed between the files and the commit
leaves files that no node names. The run's writer keeps the run in its journal and, once a server
answers again, writes it again whole (:class:`~autolab.catalog.writer.CatalogWriter`); tiled then
refuses to make the same array over the left files (zarr's ``ContainsArrayError``), and every
replay of that journal fails with HTTP 500.

:func:`replace_uncommitted_arrays` lets tiled's zarr adapter remove such files and make the array
again. It only acts where zarr found files in the way, and only after tiled has stored the new node
in its transaction: no committed node holds that path then (its flush would have been refused),
and a request creating the same path at once waits for that transaction or is refused, so the
files belong to no node and to no other request.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from urllib.parse import quote_plus, urljoin

logger = logging.getLogger(__name__)


def replace_uncommitted_arrays() -> None:
    """Make tiled's zarr adapter replace array files no node names (idempotent, this process)."""
    from tiled.adapters.zarr import ZarrArrayAdapter
    from zarr.errors import ContainsArrayError, ContainsGroupError

    original = ZarrArrayAdapter.__dict__["init_storage"].__func__
    if getattr(original, "replaces_uncommitted_by_autolab", False):
        return

    def init_storage(cls, storage, data_source, path_parts):
        try:
            return original(cls, storage, data_source, path_parts)
        except (ContainsArrayError, ContainsGroupError):
            left = array_path(storage, path_parts)
            if left is None or not left.is_dir():
                raise
            logger.warning("array files at %s belong to no node (a server stopped while creating it); they are replaced", left)
            shutil.rmtree(left)
            return original(cls, storage, data_source, path_parts)

    init_storage.replaces_uncommitted_by_autolab = True
    init_storage.__doc__ = original.__doc__
    ZarrArrayAdapter.init_storage = classmethod(init_storage)


def array_path(storage, path_parts: list[str]) -> Path | None:
    """Where tiled's zarr adapter puts the array of node ``path_parts`` in file ``storage`` (None: not a local file)."""
    from tiled.utils import path_from_uri

    uri = getattr(storage, "uri", "")
    if not uri.startswith("file:"):
        return None
    return Path(path_from_uri(urljoin(uri + "/", "/".join(quote_plus(segment) for segment in path_parts))))
