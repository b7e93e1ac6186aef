"""The login backend: Django's ModelBackend, loading the signed-in user with their profile.

Every page reads the viewer's profile (`Person`: time zone, country) right after the user, so
one query with a join instead of two on each request."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ModelBackendWithProfile(ModelBackend):
    def get_user(self, user_id):
        users = get_user_model()._default_manager
        try:
            user = users.select_related("person").get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
