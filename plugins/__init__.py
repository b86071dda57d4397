"""Built-in analysis plugins of autolab (uvvis, saxs, kinetics, objectives).

They register through the ``autolab.plugins`` entry-point group, exactly as a third-party plugin
would; the analysis layer that loads them is the subject of the analysis issue.
"""
