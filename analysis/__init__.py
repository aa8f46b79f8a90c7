"""Reading results, statistics, plots and reports.

``analysis.load`` reads a results folder into a typed runs table, ``softtarget.analysis.compare``
summarises it per configuration and against a baseline, ``analysis.plot_results`` and
``analysis.write_report`` draw the figures and the HTML report. The plotting names are
imported on first use, so ``import analysis`` does not pull in matplotlib and seaborn.

Note: ``softtarget.analysis.compare`` is the function; the module is reached as
``from softtarget.analysis.compare import ...`` (``sys.modules``), which still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from softtarget.analysis.compare import compare, format_comparison
from softtarget.analysis.results import (
    load,
    load_events,
    load_exits,
    load_failures,
    load_manifest,
    load_messages,
    load_timeseries,
)

if TYPE_CHECKING:
    from softtarget.analysis.plots import (
        configuration_palette,
        make_figures,
        plot_cost_effectiveness,
        plot_distributions,
        plot_ecdfs,
        plot_response_timeline,
        plot_results,
        plot_timeseries,
    )
    from softtarget.analysis.report import write_report

_LAZY = {
    "configuration_palette": "softtarget.analysis.plots",
    "make_figures": "softtarget.analysis.plots",
    "plot_cost_effectiveness": "softtarget.analysis.plots",
    "plot_distributions": "softtarget.analysis.plots",
    "plot_ecdfs": "softtarget.analysis.plots",
    "plot_response_timeline": "softtarget.analysis.plots",
    "plot_results": "softtarget.analysis.plots",
    "plot_timeseries": "softtarget.analysis.plots",
    "write_report": "softtarget.analysis.report",
}

__all__ = [
    "compare",
    "configuration_palette",
    "format_comparison",
    "load",
    "load_events",
    "load_exits",
    "load_failures",
    "load_manifest",
    "load_messages",
    "load_timeseries",
    "make_figures",
    "plot_cost_effectiveness",
    "plot_distributions",
    "plot_ecdfs",
    "plot_response_timeline",
    "plot_results",
    "plot_timeseries",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import the plotting and report functions on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
