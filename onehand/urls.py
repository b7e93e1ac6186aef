from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from availability import api as availability_api
from incidents import api as incidents_api
from notifications import api as notifications_api
from planning import api as planning_api
from planning import pay_api
from rotation import api as rotation_api

from . import schema  # noqa: F401 - registers the OpenAPI extensions
from .health import healthz
from .metrics import metrics

# No ".json" suffix routes: the custom actions (oncall, draft, publish, ...) do not take a
# `format` argument, so /api/rotations/1/oncall.json was a 500. `?format=json` still works.
router = DefaultRouter()
router.include_format_suffixes = False
router.register("teams", pay_api.TeamViewSet, basename="team")
router.register("memberships", rotation_api.MembershipViewSet, basename="membership")
router.register("rotations", planning_api.RotationViewSet, basename="rotation")
router.register("rosters", rotation_api.RosterViewSet, basename="roster")
router.register("draft-jobs", planning_api.DraftJobViewSet, basename="draft-job")
router.register("shifts", planning_api.ShiftViewSet, basename="shift")

router.register("swaps", planning_api.SwapRequestViewSet, basename="swap")
router.register("offers", planning_api.SwapOfferViewSet, basename="offer")
router.register("requirements", availability_api.DutyRequirementViewSet, basename="requirement")
router.register("qualifications", availability_api.QualificationViewSet, basename="qualification")
router.register("availability", availability_api.AvailabilityEntryViewSet, basename="availability")
router.register(
    "calendar-sources", availability_api.CalendarSourceViewSet, basename="calendar-source"
)
router.register(
    "availability-locks", availability_api.AvailabilityLockViewSet, basename="availability-lock"
)
router.register("allocations", availability_api.ProjectAllocationViewSet, basename="allocation")
router.register("utilisation", availability_api.UtilisationViewSet, basename="utilisation")
router.register("readiness", availability_api.ReadinessViewSet, basename="readiness")
router.register("incidents", incidents_api.IncidentViewSet, basename="incident")
router.register("incident-hooks", incidents_api.IncidentHookViewSet, basename="incident-hook")
router.register("audit", rotation_api.AuditEntryViewSet, basename="audit")
router.register("deliveries", notifications_api.DeliveryViewSet, basename="delivery")
router.register("chat-hooks", notifications_api.ChatHookViewSet, basename="chat-hook")


class ApiAddressNotFound(APIView):
    """An /api/ address no route matched (GET /api/draft-jobs/ has no list): the API's JSON
    404, through its own exception handler, rather than Django's HTML page."""

    schema = None  # not an endpoint: kept out of the OpenAPI document
    permission_classes = []

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound()


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Any id segment reaches the view (as the router's routes do), so a bad one is a JSON 404.
    path(
        "api/rotations/<str:pk>/history-import/",
        planning_api.ToolHistoryViewSet.as_view({"post": "create"}),
        name="rotation-history-import",
    ),
    path(
        "api/rotations/<str:pk>/history-import/preview/",
        planning_api.ToolHistoryViewSet.as_view({"post": "preview"}),
        name="rotation-history-preview",
    ),
    path("api/", include(router.urls)),
    re_path(r"^api/(?P<address>.*)$", ApiAddressNotFound.as_view(), name="api-not-found"),
    path("", include("availability.urls")),
    path("", include("incidents.urls")),
    path("", include("notifications.urls")),
    path("", include("rotation.urls")),
    path("", include("planning.urls")),
]
