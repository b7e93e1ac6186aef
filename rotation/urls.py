from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("teams/<slug:slug>/", views.team_detail, name="team"),
    path("rotations/<int:pk>/", views.rotation_detail, name="rotation"),
]
