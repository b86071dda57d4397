"""Closed-loop campaigns: settings and search space, state and summary, resume from the catalog, the loop.

- :mod:`~autolab.campaign.settings`: a campaign's settings and search space, checked against the reactor;
- :mod:`~autolab.campaign.state`: :class:`Campaign`, an optimiser on bluesky-adaptive's protocol
  around the GP (or any other), with the points tried and the summary;
- :mod:`~autolab.campaign.resume`: the campaign rebuilt from the catalog;
- :mod:`~autolab.campaign.loop`: the one suggest → acquire → evaluate → ingest loop;
- :mod:`~autolab.campaign.plan`: that loop on the RunEngine (:func:`autonomous_campaign`,
  :func:`run_campaign`); :mod:`autolab.agent` runs it through the queue.
"""

from .loop import Acquired, campaign_loop, run_without_engine
from .plan import autonomous_campaign, feasible_point, run_campaign
from .resume import resume_campaign
from .settings import CampaignSettings, campaign_bounds
from .state import Campaign, CampaignPoint

__all__ = [
    "Acquired",
    "Campaign",
    "CampaignPoint",
    "CampaignSettings",
    "autonomous_campaign",
    "campaign_bounds",
    "campaign_loop",
    "feasible_point",
    "resume_campaign",
    "run_campaign",
    "run_without_engine",
]
