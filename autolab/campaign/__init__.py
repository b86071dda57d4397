"""Closed-loop campaigns: settings and search space, state and summary, resume from the catalog, the loop."""

from .plan import autonomous_campaign, feasible_point, record_analysis, run_campaign
from .state import CONDITIONS, Campaign, CampaignPoint, CampaignSettings, campaign_bounds

__all__ = [
    "CONDITIONS",
    "Campaign",
    "CampaignPoint",
    "CampaignSettings",
    "autonomous_campaign",
    "campaign_bounds",
    "feasible_point",
    "record_analysis",
    "run_campaign",
]
