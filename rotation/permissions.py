from rest_framework.permissions import SAFE_METHODS, BasePermission

from .selectors import is_manager


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
        return is_manager(request.user, team_id_of(obj))
