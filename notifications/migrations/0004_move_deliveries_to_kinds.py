"""Existing rows: channel (medium + notice) and sequence (SEQUENCE, offer id or request id)
become channel (medium), kind (notice), sequence (entries only), swap_offer, swap_request."""

from django.db import migrations


NOTE_CHANNELS = ("reminder", "handoff_in", "handoff_out")
MANAGER_KINDS = ("swap_no_taker", "swap_approval")
RESULT_KINDS = ("swap_done", "swap_cancelled")


def split_channel_into_kind(apps, schema_editor):
    """channel said both medium and notice, sequence held a SEQUENCE, an offer id or a request
    id: now channel is the medium, kind the notice, and each id has its own column."""
    Delivery = apps.get_model("notifications", "Delivery")
    SwapOffer = apps.get_model("rotation", "SwapOffer")
    SwapRequest = apps.get_model("rotation", "SwapRequest")
    Delivery.objects.filter(channel__in=("email", "caldav")).update(kind="entry")
    for old in NOTE_CHANNELS:
        Delivery.objects.filter(channel=old).update(channel="email", kind=old, sequence=None)
    offers = dict(SwapOffer.objects.values_list("pk", "request_id"))
    for row in Delivery.objects.filter(channel="swap_offer"):
        if row.sequence not in offers:
            row.delete()  # its offer is gone: nothing left to say
            continue
        row.swap_offer_id, row.swap_request_id = row.sequence, offers[row.sequence]
        row.channel, row.kind, row.sequence = "email", "swap_offer", None
        row.save(update_fields=["swap_offer", "swap_request", "channel", "kind", "sequence"])
    requests = {r.pk: r for r in SwapRequest.objects.all()}
    for row in Delivery.objects.filter(channel__in=("swap_manager", "swap_result")):
        request = requests.get(row.sequence)
        if request is None:
            row.delete()
            continue
        if row.channel == "swap_manager":
            # One key held both notices; the first written was "no taker" when the managers
            # were told before anyone accepted, else the approval request.
            kind = "swap_no_taker" if request.managers_told_at else "swap_approval"
        else:
            kind = "swap_cancelled" if request.status == "cancelled" else "swap_done"
        row.swap_request_id, row.channel, row.kind, row.sequence = request.pk, "email", kind, None
        row.save(update_fields=["swap_request", "channel", "kind", "sequence"])


def merge_kind_into_channel(apps, schema_editor):
    Delivery = apps.get_model("notifications", "Delivery")
    for old in NOTE_CHANNELS:
        Delivery.objects.filter(kind=old).update(channel=old, sequence=0)
    for row in Delivery.objects.filter(kind="swap_offer"):
        row.channel, row.sequence = "swap_offer", row.swap_offer_id
        row.save(update_fields=["channel", "sequence"])
    for kinds, channel in ((MANAGER_KINDS, "swap_manager"), (RESULT_KINDS, "swap_result")):
        for row in Delivery.objects.filter(kind__in=kinds).order_by("pk"):
            if Delivery.objects.filter(
                user_id=row.user_id, shift_id=row.shift_id, channel=channel,
                sequence=row.swap_request_id,
            ).exists():
                row.delete()  # the old key could hold only one of them
                continue
            row.channel, row.sequence = channel, row.swap_request_id
            row.save(update_fields=["channel", "sequence"])
    # Notices the old outbox had no way to say.
    Delivery.objects.exclude(kind__in=("entry", *NOTE_CHANNELS, "swap_offer", *MANAGER_KINDS, *RESULT_KINDS)).delete()



class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_delivery_kind_and_swap_links")]

    operations = [migrations.RunPython(split_channel_into_kind, merge_kind_into_channel)]
