from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Planning: recommender, drafts and swaps"

    def ready(self) -> None:
        from rotation import selectors

        from . import escalation

        # The on-call answer and the pages below planning name the reachable chain too.
        selectors.install_escalation_policy(policy=escalation.escalation_chains)
