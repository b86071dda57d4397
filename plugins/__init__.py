"""Built-in analysis plugins of autolab (uvvis, saxs, kinetics, objectives).

They register through the ``autolab.plugins`` entry-point group, exactly as a third-party plugin
would, and :class:`autolab.analysis.PluginManager` loads them. They read CdSe's constants, sizing
and band shapes from :mod:`autolab.materials` and nothing of the physics twin.
"""
