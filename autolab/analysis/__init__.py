"""The analysis layer: hook specifications, the plugin manager, and the live callback.

Plugins implement hooks from :mod:`autolab.analysis.hookspecs` with :data:`hookimpl` and register
through the ``autolab.plugins`` entry-point group (built-ins included).
"""

from .hookspecs import as_numbers, hookimpl, hookspec, metric_table
from .manager import DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP, AnalysisReport, PluginInfo, PluginManager

__all__ = [
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "AnalysisReport",
    "PluginInfo",
    "PluginManager",
    "as_numbers",
    "hookimpl",
    "hookspec",
    "metric_table",
]
