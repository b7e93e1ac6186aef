"""Receivers of the rotation app: profiles for new users, and the on-call cache kept true."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Person, Rotation
from .oncall import forget_who_is_on_call


@receiver(post_save, sender=get_user_model())
def give_every_user_a_profile(sender, instance, created, **kwargs):
    if created:
        Person.objects.get_or_create(user=instance)
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
