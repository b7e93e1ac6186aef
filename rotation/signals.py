from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Person


@receiver(post_save, sender=get_user_model())
def give_every_user_a_profile(sender, instance, created, **kwargs):
    if created:
        Person.objects.get_or_create(user=instance)
