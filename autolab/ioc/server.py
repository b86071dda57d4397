"""One caproto IOC process serving a twin reactor's devices: ``python -m autolab.ioc.server``.

The process builds the twin (:func:`~autolab.devices.make_twin_reactor` on a real-time clock
scaled by ``--time-scale``), one PV group per device under ``<prefix><device suffix>``
(:data:`DEVICE_SUFFIXES`), and serves them on 127.0.0.1 only, on the port in
``EPICS_CAS_SERVER_PORT`` (``autolab ioc start`` picks a free one). A poll loop copies the
twin's readbacks into the PVs every ``--poll-s`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket

import numpy as np
from caproto.asyncio.server import Context
from caproto.server import PVGroup

from ..devices import make_twin_reactor
from .groups import BeamGroup, CamGroup, DiodeGroup, HeaterGroup, PumpGroup, SpectrometerGroup

#: Each device's name (as the twin reactor names its component) and the PV suffix after the prefix.
DEVICE_SUFFIXES = {
    "cd_pump": "CdPump:",
    "se_pump": "SePump:",
    "nucleation_heater": "NucHeater:",
    "growth_oven": "GrowthOven:",
    "spectrometer": "UVVis:",
    "saxs": "SAXS:",
    "beam_monitor": "Beam:",
    "diode": "Diode:",
}

#: Default prefix of every PV the twin IOC serves.
DEFAULT_PREFIX = "AUTOLAB:"


class TwinIOC:
    """The PV groups of one twin reactor, and the loop that keeps their readbacks current.

    Parameters
    ----------
    prefix : str
        Prepended to every PV name (``AUTOLAB:`` gives ``AUTOLAB:CdPump:Rate``).
    seed : int
        Seed of the twin's noise.
    time_scale : float
        Real seconds per simulated second (> 0: the IOC runs on wall-clock time).
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, *, seed: int = 0, time_scale: float = 1.0):
        if not time_scale > 0:
            msg = f"time_scale={time_scale!r} must be > 0 for an IOC (real seconds per simulated second)"
            raise ValueError(msg)
        self.prefix = prefix
        self.reactor = reactor = make_twin_reactor(seed=seed, time_scale=time_scale)
        names = {name: prefix + suffix for name, suffix in DEVICE_SUFFIXES.items()}
        self.beam = BeamGroup(names["beam_monitor"], rng=np.random.default_rng(None if seed is None else seed + 1))
        self.groups: dict[str, PVGroup] = {
            "cd_pump": PumpGroup(names["cd_pump"], device=reactor.cd_pump),
            "se_pump": PumpGroup(names["se_pump"], device=reactor.se_pump),
            "nucleation_heater": HeaterGroup(names["nucleation_heater"], device=reactor.nucleation_heater),
            "growth_oven": HeaterGroup(names["growth_oven"], device=reactor.growth_oven),
            "spectrometer": SpectrometerGroup(names["spectrometer"], device=reactor.spectrometer),
            "saxs": CamGroup(names["saxs"], device=reactor.saxs, beam=self.beam),
            "beam_monitor": self.beam,
        }
        self.groups["diode"] = DiodeGroup(names["diode"], beam=self.beam, cam=self.groups["saxs"])
        # Each detector acquires once before the IOC serves, so a client's first acquisition does
        # not pay for the twin's one-time setup (its first frame's integrator).
        for detector in (reactor.spectrometer, reactor.saxs):
            detector.trigger().wait(120)

    @property
    def pvdb(self) -> dict:
        """Every PV of every group, by name."""
        pvdb = {}
        for group in self.groups.values():
            pvdb.update(group.pvdb)
        return pvdb

    def geometry(self) -> dict[str, float]:
        """The twin's volumes (µL) and Cd fraction, which a client reactor must use too."""
        r = self.reactor
        return {key: float(getattr(r, key).get()) for key in
                ("nucleation_chamber_volume_ul", "growth_oven_volume_ul", "transfer_volume_ul", "cd_volume_fraction",
                 "max_residence_time_s")}

    async def startup(self, async_lib) -> None:
        """Write the twin's settings into the PVs, then poll the twin forever."""
        for group in self.groups.values():
            for prop, value in getattr(group, "_startup", {}).items():
                await prop.write(value)
        refreshing = [g for g in self.groups.values() if hasattr(g, "refresh")]
        while True:
            # The twin's flow cell notices a change of conditions when asked; asking at every poll
            # starts its washout when the flows change, as the in-process flush monitor does.
            self.reactor.flushed_volumes()
            for group in refreshing:
                await group.refresh()
            await asyncio.sleep(self.poll_s)

    poll_s = 0.02


class NoDelayContext(Context):
    """caproto's asyncio server ``Context``, its TCP sockets without Nagle's algorithm.

    asyncio sets ``TCP_NODELAY`` only on sockets made with ``IPPROTO_TCP``, and caproto's are not:
    a put's completion sent right after a monitor update (a pump's ``Run`` after its ``Rate``) then
    waits for the client's delayed ACK, about 40 ms on Linux. Accepted sockets inherit the
    listening socket's option.
    """

    async def server_accept_loop(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await super().server_accept_loop(sock)


class OneBeaconWarning(logging.Filter):
    """caproto logs a traceback at every beacon nothing receives (no CA repeater on the loopback's
    5065, the usual case for this IOC): the first as one line, the rest not at all."""

    def __init__(self):
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Failed to send beacon"):
            return True
        if self.seen:
            return False
        self.seen = True
        record.exc_info, record.exc_text = None, None
        return True


def main(argv: list[str] | None = None) -> None:
    """Serve the twin IOC until killed (SIGTERM or SIGINT)."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=DEFAULT_PREFIX)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--poll-s", type=float, default=0.02)
    args = parser.parse_args(argv)
    logging.getLogger("caproto.ctx").addFilter(OneBeaconWarning())
    ioc = TwinIOC(args.prefix, seed=args.seed, time_scale=args.time_scale)
    ioc.poll_s = args.poll_s
    interfaces = os.environ.get("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1").split()

    async def serve():  # the context is made inside the event loop it serves from
        await NoDelayContext(ioc.pvdb, interfaces).run(startup_hook=ioc.startup)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return


if __name__ == "__main__":  # pragma: no cover
    main()
