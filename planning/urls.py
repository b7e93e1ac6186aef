from django.urls import path

from . import manage_views, pay_views, swap_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("teams/<slug:slug>/pay/", pay_views.pay_page, name="pay"),
    path("rotations/<int:pk>/plan/", manage_views.plan, name="plan"),
    path("rotations/<int:pk>/report/", manage_views.report, name="report"),
    path("rotations/<int:pk>/compare/", manage_views.compare, name="compare"),
    path("rotations/<int:pk>/draft/", manage_views.draft, name="draft"),
    path(
        "rotations/<int:pk>/import-from-tool/",
        manage_views.import_from_tool,
        name="import-from-tool",
    ),
    path("draft-jobs/<int:pk>/", manage_views.draft_job, name="draft-job"),
    path("rosters/<int:pk>/", manage_views.roster_view, name="roster"),
    path("slots/<int:shift_pk>/", manage_views.slot_editor, name="slot-editor"),
    path("slots/<int:shift_pk>/assign/", manage_views.assign, name="assign"),
    path("slots/<int:shift_pk>/edit/", manage_views.slot_editor, name="slot-edit"),
    path("shifts/<int:shift_pk>/cant-make-it/", swap_views.cant_make_it, name="cant-make-it"),
    path("offers/<int:offer_pk>/", swap_views.offer_respond, name="swap-offer"),
    path("shifts/<int:shift_pk>/handover/", swap_views.handover, name="handover"),
    path("swaps/<int:pk>/cancel/", swap_views.cancel_swap, name="swap-cancel"),
    path("swaps/<int:pk>/decide/", swap_views.decide_swap, name="swap-decide"),
    path("swaps/<int:pk>/assign/", swap_views.assign_link, name="swap-assign"),
]
