"""The diffuse threat: what is drawn for a run, and the attackers who carry it out.

:mod:`~softtarget.sim.threat.plan` draws the attack of a replicate (mode, cell size, target,
timing, reconnaissance); :mod:`~softtarget.sim.threat.attacker` is an attacker's life from
arrival to the end of their part; each mode of attack is one small class that owns how it
strikes and how it ends: :mod:`~softtarget.sim.threat.firearm`,
:mod:`~softtarget.sim.threat.blade`, :mod:`~softtarget.sim.threat.pbied`,
:mod:`~softtarget.sim.threat.vehicle`.
"""

from softtarget.sim.threat.attacker import Attacker
from softtarget.sim.threat.pbied import blast_risk
from softtarget.sim.threat.plan import Threat, ThreatPlan

__all__ = ["Attacker", "Threat", "ThreatPlan", "blast_risk"]
