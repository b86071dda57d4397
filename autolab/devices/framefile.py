"""A detector's frames in HDF5 files, referred to from its runs by ``stream_resource``/``stream_datum`` documents.

As areaDetector's HDF5 plugin does, :class:`FrameFile` writes each stored frame into an HDF5 file
(dataset ``/entry/data/data``, one frame per event along the first axis, chunked by frame and
compressed with HDF5's own shuffle + deflate filters, which every HDF5 reader has) and
composes the event-model documents through which a run refers to it: one ``stream_resource`` per
file (the file's URI, the dataset, the chunk shape) and one ``stream_datum`` per frame (its index
in the file). ``bluesky_tiled_plugins.TiledWriter`` registers them in the catalog as an external
HDF5 asset, so ``run["primary"]["saxs_image"].read()`` reads the frames back from the file.

A file is ``<directory>/<YYYY-MM-DD>/<stream_resource uid>.h5``. One file holds the frames of one
staging of the detector (a run's); a frame written outside a staging gets a file of its own. The
file is closed after every frame, so readers (tiled, h5py) see it whole. Both the twin's and the
EPICS SAXS detector write through this class (:meth:`~autolab.devices.SAXSDetector.keep_frame`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
from event_model import ComposeStreamResource, StreamRange

from ..errors import ReactorFault

#: The dataset of the frames inside each file (areaDetector's layout).
DATASET = "/entry/data/data"
#: How each frame chunk is compressed: byte shuffle + deflate level 1, HDF5's built-in filters (no
#: plugin needed to read them). A 256 × 240 int32 twin frame takes 55 kB instead of 246 kB, for
#: 3.0 ms instead of 1.0 ms to write it (gzip without shuffle: 86 kB; lzf, which only h5py reads: 125 kB).
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
#: The catalog-side mimetype of the files (tiled's HDF5 adapter reads them).
MIMETYPE = "application/x-hdf5"


class FrameFile:
    """Writes one detector's frames into HDF5 files under ``directory`` and says how a run finds them.

    Parameters
    ----------
    directory : str or path
        Where the files go (an embedded catalog's ``frames/`` folder); made when first written to.
    owner : str
        The detector's name, for error messages.
    """

    def __init__(self, directory, *, owner: str = "detector"):
        self.directory = Path(directory).expanduser().resolve()
        self.owner = owner
        self._staged = False
        self._forget()

    def _forget(self) -> None:
        self.path: Path | None = None
        self._bundle = None  # the file's stream_resource and its stream_datum composer
        self._resource_emitted = False
        self._shape = self._dtype = None
        self._stored = 0  # frames referred to by a collected stream_datum
        self._pending: int | None = None  # index of a written frame not yet collected

    def start(self) -> None:
        """A staging begins: its frames go into one new file (made with its first frame)."""
        self.finish()
        self._staged = True

    def finish(self) -> None:
        """A staging ends: a written frame no run collected is cut from the file, which is then left alone."""
        if self.path is not None and self._pending is not None:
            try:
                import h5py

                with h5py.File(self.path, "a") as handle:
                    handle[DATASET].resize(self._stored, axis=0)
            except (OSError, KeyError, ValueError):  # the file stays one frame longer than its datums say; nothing refers to it
                pass
        self._staged = False
        self._forget()

    def write(self, frame, data_key: str) -> None:
        """Write ``frame`` as the next frame of the file; its documents wait for :meth:`collect`.

        A frame written but not collected (the run failed before its read) is overwritten by the
        next one. Raises :class:`~autolab.errors.ReactorFault` naming the file and the reason when
        the frame cannot be written, so the acquisition fails instead of losing the frame.
        """
        frame = np.asarray(frame)
        if frame.ndim != 2 or frame.size == 0:
            msg = f"{self.owner}: frame shape={frame.shape} is not allowed: a frame is a non-empty 2D array"
            raise ReactorFault(msg)
        if self.path is not None and (frame.shape != self._shape or frame.dtype != self._dtype):
            if self._stored:
                msg = (f"{self.owner}: frame shape={frame.shape} dtype={frame.dtype} differs from the {self._shape} {self._dtype} "
                       f"frames already in {self.path}; a run's frames share one shape")
                raise ReactorFault(msg)
            self._forget()
        if self.path is None or (not self._staged and self._stored):  # unstaged: a file per frame
            self._new_file(frame, data_key)
        index = self._stored
        try:
            import h5py

            self.path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(self.path, "a") as handle:
                if DATASET not in handle:
                    handle.create_dataset(DATASET, shape=(0, *frame.shape), maxshape=(None, *frame.shape),
                                          dtype=frame.dtype, chunks=(1, *frame.shape), **COMPRESSION)
                dataset = handle[DATASET]
                dataset.resize(index + 1, axis=0)
                dataset[index] = frame
        except (OSError, ValueError, TypeError, KeyError) as exc:
            msg = f"{self.owner}: cannot write frame {index} to {self.path}: {exc}; the frame is not stored"
            raise ReactorFault(msg) from exc
        self._pending = index

    def _new_file(self, frame: np.ndarray, data_key: str) -> None:
        self._forget()
        uid = str(uuid.uuid4())
        self.path = self.directory / time.strftime("%Y-%m-%d") / f"{uid}.h5"
        self._shape, self._dtype = frame.shape, frame.dtype
        self._bundle = ComposeStreamResource()(
            MIMETYPE, f"file://localhost{self.path.as_posix()}", data_key,
            {"dataset": DATASET, "chunk_shape": [1, *frame.shape], "swmr": False}, uid=uid,
        )

    def collect(self):
        """The documents of the frame written last: the file's ``stream_resource`` first time, then its ``stream_datum``."""
        if self._pending is None:
            return []
        docs = []
        if not self._resource_emitted:
            docs.append(("stream_resource", self._bundle.stream_resource_doc))
            self._resource_emitted = True
        index, self._pending = self._pending, None
        docs.append(("stream_datum", self._bundle.compose_stream_datum(indices=StreamRange(start=index, stop=index + 1))))
        self._stored = index + 1
        return docs
