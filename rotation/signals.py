from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Person


@receiver(post_save, sender=get_user_model())
def give_every_user_a_profile(sender, instance, created, **kwargs):
    if created:
        Person.objects.get_or_create(user=instance)


def forget_who_is_on_call(rotation_ids) -> None:
    """Bump the cache version so the next on-call answer is computed afresh."""
    from django.core.cache import cache

    for rotation_id in set(rotation_ids):
        key = f"oncall-version:{rotation_id}"
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 2, None)


def _on_publish(sender, roster, **kwargs):
    from django.db import transaction

    transaction.on_commit(lambda: forget_who_is_on_call([roster.rotation_id]))


def _on_reassign(sender, changes, **kwargs):
    from django.db import transaction

    ids = [shift.roster.rotation_id for shift, _ in changes]
    transaction.on_commit(lambda: forget_who_is_on_call(ids))
