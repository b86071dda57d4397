"""Channel Access IOCs that serve the twin reactor (caproto), and the processes that run them.

:mod:`autolab.ioc.server` is the IOC process (:class:`~autolab.ioc.server.TwinIOC`, PV groups in
:mod:`autolab.ioc.groups`); :mod:`autolab.ioc.control` starts, stops and checks it and injects
faults (``autolab ioc start|status|stop|fault``). ``docs/epics.md`` lists every PV.
"""
