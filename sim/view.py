"""The interactive page of ``softtarget view``: one run stepped or played in the browser.

Built on Mesa's :func:`mesa.visualization.SolaraViz`. The sidebar holds Mesa's controls
(reset, play/pause, step, play interval, steps per render) and the model parameters (the
scenario's configurations and the run seed); the main area shows the venue plan with the live
layers of ``softtarget animate`` (:class:`softtarget.sim.animate.Frame`: visitors by state, staff by
role, attackers, local density, clock and key moments) and a chart of the key outcomes over time.

The page serves one scenario, given to :func:`bind` before the server starts; each browser
session gets its own model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import solara
from matplotlib.figure import Figure

from softtarget.sim import columns as C
from softtarget.sim.animate import STATE_COLOURS, Frame, clock
from softtarget.sim.model import SoftTargetModel
from softtarget.sim.people import State
from softtarget.sim.schema import Scenario

with warnings.catch_warnings():
    # Solara's hook linter flags a hook after an early return in Mesa 3.3's ComponentsView;
    # the return only happens with no components, which this page never has.
    warnings.filterwarnings("ignore", message=".*found despite early return", category=UserWarning)
    from mesa.visualization import SolaraViz
    from mesa.visualization.utils import update_counter

__all__ = ["OUTCOMES", "Page", "View", "bind", "model_class", "parse_seed"]

#: Outcomes charted over time: label, the time-series columns summed, colour (those of the plan).
OUTCOMES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("queuing", (C.N_QUEUING,), STATE_COLOURS[State.QUEUING]),
    ("inside", (C.N_INSIDE,), STATE_COLOURS[State.INSIDE]),
    ("fleeing", (C.N_FLEEING,), STATE_COLOURS[State.FLEEING]),
    ("injured + killed", (C.N_INJURED, C.N_KILLED), STATE_COLOURS[State.INJURED]),
)
_PLAN_DPI = 72
_CHART_DPI = 90


def parse_seed(seed: int | str) -> int:
    """``seed`` as a non-negative whole number (the page's seed field gives text)."""
    try:
        value = int(str(seed).strip())
    except ValueError:
        raise ValueError(f"the seed must be a whole number, not '{seed}'") from None
    if value < 0:
        raise ValueError(f"the seed must not be negative: {value}")
    return value


def model_class(scenario: Scenario, configuration: str, seed: int) -> type[SoftTargetModel]:
    """A model class bound to ``scenario``, built from keyword arguments as Mesa's page does.

    Its ``configuration`` and ``seed`` default to the ones given. Its time series (the model's
    DataCollector, the same as a batch writes) is sampled at every step for the chart, and it
    stops running at the scenario's ``run.duration_s``.
    """
    every_step = scenario.model_copy(
        update={"run": scenario.run.model_copy(update={"sample_every_s": scenario.run.dt_s})}
    )

    class ViewModel(SoftTargetModel):
        """One run of the bound scenario, its time series sampled at every step."""

        def __init__(self, configuration: str = configuration, seed: int | str = seed) -> None:
            """Build the run of ``configuration`` with ``seed`` (a number or its text)."""
            if configuration not in scenario.configurations:
                allowed = ", ".join(scenario.configurations)
                raise ValueError(f"unknown configuration '{configuration}' (allowed: {allowed})")
            self.run_seed = parse_seed(seed)
            super().__init__(every_step, configuration, self.run_seed)

        def step(self) -> None:
            """Advance ``dt`` seconds; stop at the run's end."""
            super().step()
            self.running = self.t + 1e-9 < scenario.run.duration_s

    ViewModel.__qualname__ = ViewModel.__name__ = f"SoftTargetModel[{scenario.name}]"
    return ViewModel


@dataclass
class View:
    """What the page serves: the scenario, its model class and Mesa's model parameters."""

    scenario: Scenario
    configuration: str
    seed: int
    model: type[SoftTargetModel] = field(init=False)
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        """Derive the model class and the parameters shown in the sidebar."""
        self.model = model_class(self.scenario, self.configuration, self.seed)
        self.params = {
            "configuration": {
                "type": "Select",
                "label": "configuration",
                "value": self.configuration,
                "values": list(self.scenario.configurations),
            },
            "seed": {"type": "InputText", "label": "seed", "value": str(self.seed)},
        }


_BOUND: list[View] = []


def bind(scenario: Scenario, configuration: str, seed: int) -> View:
    """Serve ``scenario`` on the page, starting with ``configuration`` and ``seed``."""
    view = View(scenario, configuration, seed)
    _BOUND[:] = [view]
    return view


@solara.component
def PlanView(model: SoftTargetModel) -> None:
    """The venue plan with visitors, staff, attackers, density and the clock."""
    update_counter.get()
    frame = solara.use_memo(
        lambda: Frame(model, title=f"{model.scenario.name}: {model.config_name}"), [model]
    )
    frame.update()
    solara.FigureMatplotlib(
        frame.fig, dependencies=[id(model), model.steps], format="png", dpi=_PLAN_DPI
    )


def outcome_figure(model: SoftTargetModel) -> Figure:
    """The charted outcomes of ``model`` (a :func:`model_class` model) from the start to now."""
    series = model.datacollector.get_model_vars_dataframe()
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    minutes = series[C.T_S].to_numpy(dtype=float) / 60.0
    for label, columns, colour in OUTCOMES:
        people = series[list(columns)].sum(axis=1).to_numpy(dtype=float)
        ax.plot(minutes, people, color=colour, linewidth=1.6, label=label)
    ax.set_xlim(0.0, max(float(minutes[-1]), 1.0))
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("people")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=len(OUTCOMES), fontsize=8, frameon=False)
    return fig


@solara.component
def OutcomeChart(model: SoftTargetModel) -> None:
    """The run's clock and seed above a chart of queue, inside, fleeing and harmed people."""
    update_counter.get()
    duration = model.scenario.run.duration_s
    with solara.Column():
        solara.Text(
            f"t = {clock(model.t)} of {clock(duration)} · configuration {model.config_name}"
            f" · seed {model.run_seed}",  # type: ignore[attr-defined]
            style={"font-weight": "bold"},
        )
        fig = solara.use_memo(lambda: outcome_figure(model), [id(model), model.steps])
        solara.FigureMatplotlib(
            fig, dependencies=[id(model), model.steps], format="png", dpi=_CHART_DPI
        )


@solara.component
def Page() -> None:
    """The page Solara serves: Mesa's SolaraViz on a model of the bound scenario."""
    if not _BOUND:
        raise RuntimeError("no scenario to show: start the page with `softtarget view SCENARIO`")
    view = _BOUND[0]
    model = solara.use_memo(view.model, [])  # one model per browser session
    SolaraViz(
        model,
        components=[(PlanView, 0), (OutcomeChart, 0)],
        model_params=view.params,
        name=f"softtarget view: {view.scenario.name}",
        play_interval=50,
    )
