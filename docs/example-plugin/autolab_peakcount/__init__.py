"""Example third-party plugin: how many absorbance maxima a spectrum has.

Install it next to autolab (``pip install -e docs/example-plugin``) and ``autolab plugins`` lists
it; every measured point then gains a ``peakcount.n_peaks`` metric.
"""

import numpy as np
from scipy.signal import find_peaks

from autolab.analysis import hookimpl, metric_table

__version__ = "0.1.0"


@hookimpl
def autolab_analyze_uvvis(absorbance):
    """Count local maxima that stand 0.01 AU above their surroundings."""
    peaks, _ = find_peaks(np.asarray(absorbance), prominence=0.01)
    return {"n_peaks": int(peaks.size)}


@hookimpl
def autolab_metrics():
    return metric_table({"n_peaks": ("", "absorbance maxima 0.01 AU above their surroundings")})
