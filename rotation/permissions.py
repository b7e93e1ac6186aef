"""Who may do what: the one manager check every service uses, and the explicit system actor.

Every service that changes data takes a required `by`: a user, or `SYSTEM` for beat tasks and
management commands. There is no default that skips the check.
"""

from typing import TYPE_CHECKING, Union

from rest_framework.permissions import SAFE_METHODS, BasePermission

from onehand.errors import NotAllowed
from onehand.people import display_name

from .selectors import is_manager

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class SystemActor:
    """Onehand itself (a beat task, a management command), acting on no one's behalf."""

    pk = None
    is_system = True

    def __repr__(self) -> str:
        return "SYSTEM"

    def __bool__(self) -> bool:
        return True


SYSTEM = SystemActor()

Actor = Union["AbstractBaseUser", SystemActor]


def acting_user(by: Actor):
    """The user to record in audit rows and `created_by` fields (None for the system)."""
    return None if isinstance(by, SystemActor) else by


def actor_name(by) -> str:
    """Who did something, as the audit log and notes say it."""
    return "Onehand" if isinstance(by, SystemActor) else display_name(by)


def require_actor(by: Actor) -> None:
    if by is None:
        raise TypeError("a write needs an actor: pass the user, or SYSTEM for automatic steps")


def require_manager(by: Actor, team_id: int, message: str = "") -> None:
    """Refuse unless `by` manages the team (the system may act on any team)."""
    require_actor(by)
    if isinstance(by, SystemActor):
        return
    if not is_manager(user=by, team_id=team_id):
        raise NotAllowed(message or "Only a manager of this team can do that.")


def team_id_of(obj) -> int:
    """The team an object belongs to; every team-owned model answers this one way."""
    for path in ("team_id", "rotation.team_id", "roster.rotation.team_id"):
        target = obj
        try:
            for part in path.split("."):
                target = getattr(target, part)
        except AttributeError:
            continue
        if target is not None:
            return target
    if obj.__class__.__name__ == "Team":
        return obj.pk
    raise TypeError(f"cannot tell the team of {obj!r}")


class IsTeamManagerOrReadOnly(BasePermission):
    """Members read; only managers of the object's own team write."""

    message = "Only a manager of this team can change it."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return is_manager(user=request.user, team_id=team_id_of(obj))
