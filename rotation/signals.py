"""Receivers of the rotation app: profiles for new users, and the on-call cache kept true."""

from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import CoverageWindow, Membership, Person, Roster, Rotation, RotationMember, Shift
from .oncall import forget_who_is_on_call


@receiver(post_save, sender=get_user_model())
def give_every_user_a_profile(sender, instance, created, update_fields=None, **kwargs):
    if created:
        Person.objects.get_or_create(user=instance)
    elif update_fields is not None and set(update_fields) == {"last_login"}:
        pass  # a login changes nothing an answer shows (and would forget every rotation's)
    else:
        # A name or e-mail shown in on-call answers may have changed (any rotation).
        transaction.on_commit(lambda: forget_who_is_on_call(rotation_ids=None))


@receiver(post_save, sender=Person)
def person_changed(sender, instance, created, **kwargs):
    """Phone, mentor or time zone appear in every answer the person is part of."""
    if not created:
        transaction.on_commit(lambda: forget_who_is_on_call(rotation_ids=None))


@receiver(post_save, sender=Rotation)
def rotation_changed(sender, instance, created, **kwargs):
    """The lead and the mentor are the escalation chain's last steps."""
    if not created:
        rotation_id = instance.pk
        transaction.on_commit(lambda: forget_who_is_on_call(rotation_ids=[rotation_id]))


def _on_publish(sender, roster, **kwargs):
    rotation_id = roster.rotation_id
    transaction.on_commit(lambda: forget_who_is_on_call(rotation_ids=[rotation_id]))


def _on_reassign(sender, changes, **kwargs):
    ids = [shift.roster.rotation_id for shift, _ in changes]
    transaction.on_commit(lambda: forget_who_is_on_call(rotation_ids=ids))


def _forget_after_commit(rotation_id: int | None) -> None:
    """Forget the answer of one rotation (None: all of them) once the write commits."""
    ids = None if rotation_id is None else [rotation_id]
    transaction.on_commit(partial(forget_who_is_on_call, rotation_ids=ids))


# Rows saved or deleted one by one outside the services' events (the admin, the shell, a data
# fix) change the answer too (red-team finding: an admin edit of the current shift left the
# on-call answer and the month grid stale for up to a minute). Bulk writes send no signals; they
# are the services' own, which announce their events, or an operator's SQL (README: at most a
# minute, the cache's lifetime).
@receiver(post_save, sender=Shift)
@receiver(post_delete, sender=Shift)
@receiver(post_save, sender=CoverageWindow)
@receiver(post_delete, sender=CoverageWindow)
@receiver(post_save, sender=RotationMember)
@receiver(post_delete, sender=RotationMember)
def rotation_row_changed(sender, instance, **kwargs):
    if not isinstance(instance, Shift):
        _forget_after_commit(instance.rotation_id)
    elif Shift.roster.is_cached(instance):
        _forget_after_commit(instance.roster.rotation_id)
    else:  # no query per saved row to find the rotation: every answer is recomputed instead
        _forget_after_commit(None)


@receiver(post_save, sender=Roster)
@receiver(post_delete, sender=Roster)
def roster_changed(sender, instance, **kwargs):
    _forget_after_commit(instance.rotation_id)


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
@receiver(post_delete, sender=Rotation)
@receiver(post_delete, sender=Person)
def escalation_changed(sender, instance, **kwargs):
    """A team's managers and members are on escalation chains of every rotation they reach."""
    _forget_after_commit(None)
