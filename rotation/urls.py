from django.urls import path

from . import manage_views, swap_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("teams/<slug:slug>/", views.team_detail, name="team"),
    path("rotations/<int:pk>/", views.rotation_detail, name="rotation"),
    path("rotations/<int:pk>/plan/", manage_views.plan, name="plan"),
    path("rotations/<int:pk>/report/", manage_views.report, name="report"),
    path("teams/<slug:slug>/import-history/", manage_views.import_history, name="import-history"),
    path("teams/<slug:slug>/rotations/new/", manage_views.rotation_edit, name="rotation-new"),
    path("teams/<slug:slug>/rotations/<int:pk>/edit/", manage_views.rotation_edit, name="rotation-edit"),
    path("rotations/<int:pk>/draft/", manage_views.draft, name="draft"),
    path("rosters/<int:pk>/", manage_views.roster_view, name="roster"),
    path("rosters/<int:pk>/publish/", manage_views.publish, name="publish"),
    path("rosters/<int:pk>/audit.csv", manage_views.audit_csv, name="audit-csv"),
    path("slots/<int:shift_pk>/assign/", manage_views.assign, name="assign"),
    path("shifts/<int:shift_pk>/cant-make-it/", swap_views.cant_make_it, name="cant-make-it"),
    path("offers/<int:offer_pk>/", swap_views.offer_respond, name="swap-offer"),
    path("shifts/<int:shift_pk>/handover/", swap_views.handover, name="handover"),
    path("swaps/<int:pk>/cancel/", swap_views.cancel_swap, name="swap-cancel"),
    path("swaps/<int:pk>/decide/", swap_views.decide_swap, name="swap-decide"),
]
