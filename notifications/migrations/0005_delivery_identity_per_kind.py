"""Uniqueness per kind of notice: the same notice never twice, two notices never collide."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_move_deliveries_to_kinds")]

    operations = [
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status', 'failed')), fields=['status'], name='delivery_failed'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'entry')), fields=('user', 'shift', 'channel', 'sequence'), name='delivery_entry_once_per_change'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ('reminder', 'handoff_in', 'handoff_out', 'at_risk'))), fields=('user', 'shift', 'kind'), name='delivery_note_once_per_shift'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ('swap_offer', 'swap_offer_closed'))), fields=('user', 'swap_offer', 'kind'), name='delivery_once_per_offer'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ('swap_no_taker', 'swap_approval', 'swap_uncovered', 'swap_done', 'swap_won', 'swap_partner', 'swap_summary', 'swap_cancelled', 'swap_rejected'))), fields=('user', 'swap_request', 'kind'), name='delivery_once_per_swap'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'entry'), ('sequence__isnull', False)), models.Q(models.Q(('kind', 'entry'), _negated=True), ('sequence__isnull', True)), _connector='OR'), name='delivery_sequence_only_on_entries'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ('swap_offer', 'swap_offer_closed')), ('swap_offer__isnull', False)), models.Q(models.Q(('kind__in', ('swap_offer', 'swap_offer_closed')), _negated=True), ('swap_offer__isnull', True)), _connector='OR'), name='delivery_offer_only_on_offer_notices'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ('swap_no_taker', 'swap_approval', 'swap_uncovered', 'swap_done', 'swap_won', 'swap_partner', 'swap_summary', 'swap_cancelled', 'swap_rejected')), ('swap_request__isnull', False)), models.Q(models.Q(('kind__in', ('swap_offer', 'swap_offer_closed', 'swap_no_taker', 'swap_approval', 'swap_uncovered', 'swap_done', 'swap_won', 'swap_partner', 'swap_summary', 'swap_cancelled', 'swap_rejected')), _negated=True), ('swap_request__isnull', True)), ('kind__in', ('swap_offer', 'swap_offer_closed')), _connector='OR'), name='delivery_swap_only_on_swap_notices'),
        ),
    ]
