"""Let tiled create an array where a creation that never committed left its files.

tiled (0.2) creates an array node in one request: it stores the node in an open transaction
(``flush``, so that a node already at that path is refused as a collision), makes the array's zarr
files under the writable storage, then commits. A server killed between the files and the commit
leaves files that no node names. The run's writer keeps the run in its journal and, once a server
answers again, writes it again whole (:class:`~autolab.catalog.writer.CatalogWriter`); tiled then
refuses to make the same array over the left files (zarr's ``ContainsArrayError``), and every
replay of that journal fails with HTTP 500.

:func:`replace_uncommitted_arrays` lets tiled's zarr adapter remove such files and make the array
again. It acts only where zarr finds an array in the way, and only after tiled has stored the new
node in its open transaction: no committed node holds that key under that parent then (tiled's
flush would have refused it as a collision), and a request creating the same node at once waits for
that transaction or is refused. It leaves the files alone (tiled's HTTP 500 stands) where another
node could name the same folder: a key ``.`` or ``..``, which the URI join folds into another path,
and a folder whose name differs in case only (a case-insensitive filesystem). One race remains:
tiled removes a deleted node's files after committing the delete, so a node created at the same
path between the two would lose its new files to that removal. autolab's writer deletes a run and
writes it again one after the other, in one thread, with each request answered before the next.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from urllib.parse import quote_plus, urljoin

logger = logging.getLogger(__name__)


def replace_uncommitted_arrays() -> None:
    """Make tiled's zarr adapter replace array files no node names (idempotent, this process)."""
    from tiled.adapters.zarr import ZarrArrayAdapter
    from zarr.errors import ContainsArrayError

    original = ZarrArrayAdapter.__dict__["init_storage"].__func__
    if getattr(original, "replaces_uncommitted_by_autolab", False):
        return

    def init_storage(cls, storage, data_source, path_parts):
        try:
            return original(cls, storage, data_source, path_parts)
        except ContainsArrayError:
            left = array_path(storage, path_parts)
            if left is None or not left.is_dir():
                raise
            logger.warning("array files at %s belong to no node (left by a creation that never committed); they are replaced", left)
            shutil.rmtree(left)
            return original(cls, storage, data_source, path_parts)

    init_storage.replaces_uncommitted_by_autolab = True
    init_storage.__doc__ = original.__doc__
    ZarrArrayAdapter.init_storage = classmethod(init_storage)


def array_path(storage, path_parts: list[str]) -> Path | None:
    """Where tiled's zarr adapter puts the array of node ``path_parts`` in file ``storage`` (None: not a local file).

    Also None where the folder could be another node's: a part ``.`` or ``..`` (the URI join folds it
    into another path), or a folder on disk whose name differs from the part in case only.
    """
    from tiled.utils import path_from_uri

    uri = getattr(storage, "uri", "")
    if not uri.startswith("file:") or any(part in (".", "..") for part in path_parts):
        return None
    root = Path(path_from_uri(uri))
    path = Path(path_from_uri(urljoin(uri + "/", "/".join(quote_plus(part) for part in path_parts))))
    if root not in path.parents:
        return None
    folder = root
    for name in path.relative_to(root).parts:  # each folder's own name, as the filesystem lists it
        if name not in os.listdir(folder):
            return None
        folder = folder / name
    return path
