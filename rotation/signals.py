"""Receivers of the rotation app: a profile for every new user.

(What answers and pages keep is renewed by change stamps that see every write at the database
connection, `onehand.change_stamps`: no receiver here keeps a cache true.)
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Person


@receiver(post_save, sender=get_user_model())
def give_every_user_a_profile(sender, instance, created, **kwargs):
    if created:
        Person.objects.get_or_create(user=instance)
