from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Planning: recommender, drafts and swaps"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        from onehand import remembered_pages
        from rotation import oncall, selectors

        from . import escalation, plan_stamp

        # Outside a transaction each watcher renews its stamp as its statement returns, the
        # innermost (installed last) first: whole pages outermost (renewed last), then on-call
        # answers and plan pages, then history innermost (renewed first); inside a transaction
        # the stamps' `renew_rank` orders the commit hooks the same way.
        # Whole pages are remembered per reader under a stamp renewed by any write they show.
        connection_created.connect(remembered_pages.watch, dispatch_uid="onehand.page_stamp")
        for connection in connections.all(initialized_only=True):
            remembered_pages.watch(sender=None, connection=connection)
        # On-call answers (shown on pages: the rotation page's grid) under their generation.
        connection_created.connect(oncall.watch, dispatch_uid="rotation.oncall_answers")
        for connection in connections.all(initialized_only=True):
            oncall.watch(sender=None, connection=connection)
        # Plan pages are remembered under a stamp renewed by every write they are made from.
        connection_created.connect(plan_stamp.watch, dispatch_uid="planning.plan_stamp")
        for connection in connections.all(initialized_only=True):
            plan_stamp.watch(sender=None, connection=connection)
        # What is worked out from the rotations' history alone, under a narrower stamp.
        connection_created.connect(plan_stamp.watch_history, dispatch_uid="planning.history_stamp")
        for connection in connections.all(initialized_only=True):
            plan_stamp.watch_history(sender=None, connection=connection)

        # The on-call answer and the pages below planning name the reachable chain too.
        selectors.install_escalation_policy(policy=escalation.escalation_chains)
