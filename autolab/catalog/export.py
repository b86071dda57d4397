"""Files of a run for other programs: a stream as netCDF, HDF5 or CSV; the documents as JSON lines.

:func:`export_run` (``autolab export`` on the command line) writes them on the client side from
what any tiled client reads, so it works the same on an embedded catalog and on any server.
:func:`register_stream_serializers` teaches tiled to write ``nc``, ``h5`` and (the event table)
``csv`` itself, so ``run.primary.export("x.nc")`` works on autolab's catalogs, embedded and
served.

- ``nc``: the stream as an xarray Dataset in netCDF-4 (``xarray.open_dataset``). Each array
  keeps its named dims (``wavelength_nm``, ``q_nm_inv``), each variable its ``units``; the
  wavelength and q axes are coordinates; the start document is the ``start`` attribute (JSON).
- ``h5``: plain HDF5 (``h5py``): one dataset per data key under ``/<stream>/``, with
  ``units`` and ``dims`` attributes; the start document is the root's ``start`` attribute.
- ``csv``: ``OUTPUT`` holds one row per event with ``seq_num``, ``time`` and every scalar
  reading; each named array dimension gets ``OUTPUT``'s stem + ``.<dim>.csv``, one row per event
  and position along the dimension (``seq_num``, the dimension's coordinate, every array on it).
- ``jsonl``: the run's Bluesky documents, one ``{"name": …, "doc": …}`` per line, in order; replay
  them into any callback with ``callback(entry["name"], entry["doc"])``. A run cut off before its
  stop document (``unfinished``) ends without one.

A stream with no events (a run described, then cut off before its first reading) has nothing for
``nc``, ``h5`` and ``csv`` to hold: :func:`stream_dataset` refuses it in one line.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ..errors import CatalogError, LimitError, check_output_file

#: Formats :func:`export_run` writes, by the name ``--format`` takes.
FORMATS = ("nc", "h5", "csv", "jsonl")


def checked_output(output: str | os.PathLike) -> Path:
    """``output`` as an absolute path whose folder exists, or :class:`CatalogError` naming the folder."""
    return check_output_file("--output", output, error=CatalogError)


def stream_dataset(run, stream: str = "primary"):
    """The stream of ``run`` as an xarray Dataset with units and the detectors' axes as coordinates.

    ``run[stream].read()`` plus: each variable's ``units`` (from the descriptor) in its attrs,
    and for each named array dimension whose axis was read with the data (a variable
    ``…_<dim>``, such as ``reactor_spectrometer_wavelength_nm`` for ``wavelength_nm``), that
    axis, as it was at the last event, as the dimension's coordinate. tiled's plain ``read()``
    builds its Dataset from the arrays alone: the arrays' named dims, ``time`` as the only
    coordinate, no attrs.

    Examples
    --------
    >>> ds = stream_dataset(client[uid])  # doctest: +SKIP
    >>> ds["reactor_spectrometer_absorbance"].sel(wavelength_nm=437, method="nearest")  # doctest: +SKIP
    """
    if stream not in run:
        msg = f"run {run.metadata['start']['uid']} has no {stream!r} stream; it has {sorted(run) or 'none'}"
        raise CatalogError(msg)
    node = run[stream]
    data_keys = node.descriptors[0]["data_keys"] if node.descriptors else {}
    dataset = node.read()
    if "time" not in dataset.variables or dataset.sizes.get("time", 0) == 0:  # described, then no event (cut off before its first)
        from .reading import UNFINISHED

        status = (run.metadata.get("stop") or {}).get("exit_status") or UNFINISHED
        msg = f"run {run.metadata['start']['uid']} ({status}) has no readings in its {stream!r} stream: its descriptor has no event"
        raise CatalogError(msg)
    return with_units_and_axes(dataset, data_keys)


def with_units_and_axes(dataset, data_keys: dict):
    """``dataset`` with each variable's ``units`` from ``data_keys`` and the array axes as coordinates."""
    for name, variable in dataset.data_vars.items():
        units = data_keys.get(name, {}).get("units")
        if units:
            variable.attrs["units"] = units
    for dim in sorted(dataset.dims):
        if dim == "time" or dim in dataset.coords:
            continue
        axes = sorted(name for name, var in dataset.data_vars.items() if name.endswith(f"_{dim}") and var.dims[-1:] == (dim,))
        if axes:
            axis = dataset[axes[0]]
            coordinate = np.asarray(axis.isel(time=-1) if "time" in axis.dims else axis)
            dataset = dataset.assign_coords({dim: (dim, coordinate, dict(axis.attrs))})
    return dataset


def export_run(run, output: str | os.PathLike, fmt: str, *, stream: str = "primary") -> list[Path]:
    """Write ``run`` to ``output`` in format ``fmt`` (one of :data:`FORMATS`); return the files written.

    Parameters
    ----------
    run : BlueskyRun client
        ``client[uid]``.
    output : path
        The file to write (CSV writes more files beside it, one per array dimension).
    fmt : str
        ``"nc"``, ``"h5"``, ``"csv"`` or ``"jsonl"``; see the module's description.
    stream : str
        The stream written by ``nc``, ``h5`` and ``csv``.
    """
    if fmt not in FORMATS:
        msg = f"--format={fmt!r} is not a known format; use one of {', '.join(FORMATS)}"
        raise LimitError(msg)
    output = checked_output(output)
    if fmt == "jsonl":
        documents = _documents(run)
        return _writing(output, lambda: [_write_documents(documents, output)])
    dataset = stream_dataset(run, stream)
    start = dict(run.metadata["start"])
    if fmt == "nc":
        return _writing(output, lambda: [_write_netcdf(dataset, _run_attrs(start), output)])
    if fmt == "h5":
        return _writing(output, lambda: [_write_hdf5(dataset, _run_attrs(start), stream, output)])
    return _writing(output, lambda: _write_csv(dataset, output))


def _writing(output: Path, write) -> list[Path]:
    """``write()``'s files, or :class:`CatalogError` in one line where the system refuses to write ``output``."""
    try:
        return write()
    except OSError as exc:
        msg = f"--output={output}: cannot be written ({exc.strerror or exc})"
        raise CatalogError(msg) from None


def _documents(run) -> list[tuple[str, dict]]:
    """The run's documents as the catalog gives them, without the empty stop a run cut off before its stop gets."""
    try:
        documents = list(run.documents())
    except Exception as exc:  # a plain tiled server without Bluesky's json-seq exporter
        msg = f"the catalog cannot give the documents of run {run.metadata['start']['uid']}: {exc}"
        raise CatalogError(msg) from exc
    return [(name, doc) for name, doc in documents if not (name == "stop" and not doc)]


def _write_documents(documents: list[tuple[str, dict]], output: Path) -> Path:
    from event_model import NumpyEncoder

    with open(output, "w") as handle:
        for name, doc in documents:
            handle.write(json.dumps({"name": name, "doc": doc}, cls=NumpyEncoder) + "\n")
    return output


def _run_attrs(start: dict) -> dict[str, str]:
    from event_model import NumpyEncoder

    return {"uid": start["uid"], "plan_name": start.get("plan_name", ""), "start": json.dumps(start, cls=NumpyEncoder)}


def _write_netcdf(dataset, attrs: dict[str, str], output):
    dataset = dataset.copy()
    dataset.attrs = dict(attrs)
    dataset.to_netcdf(output, engine="h5netcdf")
    return output


def _write_hdf5(dataset, attrs: dict[str, str], stream: str, output):
    import h5py

    with h5py.File(output, "w") as handle:
        handle.attrs.update(attrs)
        group = handle.create_group(stream)
        for name, variable in {**dataset.coords, **dataset.data_vars}.items():
            item = group.create_dataset(str(name), data=np.asarray(variable.values))
            item.attrs["dims"] = [str(d) for d in variable.dims]
            if "units" in variable.attrs:
                item.attrs["units"] = variable.attrs["units"]
    return output


def _write_csv(dataset, output: Path) -> list[Path]:
    n_events = dataset.sizes.get("time", 0)
    written = [output]
    with open(output, "w", newline="") as handle:
        _write_event_table(dataset, handle)
    for dim in sorted(dataset.dims):
        if dim == "time":
            continue
        arrays = sorted(name for name, var in dataset.data_vars.items() if var.dims == ("time", dim))
        path = output.with_name(f"{output.stem}.{dim}.csv")
        coordinate = dataset[dim].values if dim in dataset.coords else np.arange(dataset.sizes[dim])
        with open(path, "w", newline="") as handle:
            table = csv.writer(handle)
            table.writerow(["seq_num", dim, *arrays])
            for index in range(n_events):
                for position, value in enumerate(coordinate):
                    table.writerow([index + 1, _cell(value), *(_cell(dataset[name].values[index, position]) for name in arrays)])
        written.append(path)
    return written


def _write_event_table(dataset, handle) -> None:
    """One CSV row per event: ``seq_num``, ``time`` and every scalar reading."""
    scalars = sorted(name for name, var in dataset.data_vars.items() if var.dims == ("time",))
    table = csv.writer(handle)
    table.writerow(["seq_num", "time", *scalars])
    for index in range(dataset.sizes.get("time", 0)):
        row = [index + 1, repr(float(dataset["time"].values[index]))]
        table.writerow(row + [_cell(dataset[name].values[index]) for name in scalars])


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value.item() if hasattr(value, "item") else value)


# --- server side: the same formats from ``run.primary.export(…)`` ------------------------

#: Media types of a stream that tiled serves with :func:`register_stream_serializers`.
STREAM_MEDIA_TYPES = {
    "application/x-netcdf": "nc",
    "application/netcdf": "nc",
    "application/x-hdf5": "h5",
    "text/csv": "csv",
}


def register_stream_serializers(registry) -> None:
    """Let tiled serve a Bluesky stream as netCDF, HDF5 or CSV (``run.primary.export("x.nc")``).

    The files are those of :func:`export_run` (for CSV, the event table ``OUTPUT``: one row
    per event with every scalar reading). Registered on the ``BlueskyEventStream`` spec, which
    tiled consults before the stream's generic container serializers.
    """
    for media_type in STREAM_MEDIA_TYPES:
        if media_type not in registry.media_types("BlueskyEventStream"):
            registry.register("BlueskyEventStream", media_type, _serialize_stream)


async def _serialize_stream(mimetype, node, metadata, filter_for_access):
    """The stream as ``mimetype``'s file; a stream without events gives the empty file of its format (header only for CSV)."""
    import io

    node = await filter_for_access(node)
    dataset = with_units_and_axes(await _stream_dataset_of_adapter(node), dict(metadata).get("data_keys", {}))
    fmt = STREAM_MEDIA_TYPES[mimetype]
    buffer = io.BytesIO()
    if fmt == "csv":
        text = io.StringIO()
        _write_event_table(dataset, text)
        return text.getvalue().encode()
    attrs = {"descriptor_uid": str(dict(metadata).get("uid", ""))}
    if fmt == "nc":
        _write_netcdf(dataset, attrs, buffer)
    else:
        _write_hdf5(dataset, attrs, str(getattr(node, "key", None) or "primary"), buffer)
    return buffer.getvalue()


async def _stream_dataset_of_adapter(node):
    """The xarray Dataset of a stream node on the server: its event table and its arrays."""
    import xarray
    from tiled.utils import ensure_awaitable

    variables, time = {}, None
    for key in await node.keys_range(offset=0, limit=None):
        child = await node.lookup_adapter([key])
        if key == "internal":
            frame = await ensure_awaitable(child.read)
            time = frame["time"].to_numpy()
            for column in frame.columns:
                if column not in ("seq_num", "time") and not column.startswith("ts_"):
                    variables[column] = (("time",), np.asarray(frame[column].tolist()))
        else:
            array = np.asarray(await ensure_awaitable(child.read))
            dims = tuple(child.structure().dims or ("time", *(f"dim_{key}_{i}" for i in range(1, array.ndim))))
            variables[key] = (dims, array)
    return xarray.Dataset(variables, coords={} if time is None else {"time": time})
