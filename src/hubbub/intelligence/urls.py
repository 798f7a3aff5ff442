from django.urls import path

from hubbub.intelligence import views

app_name = "intelligence"

urlpatterns = [
    path("listening/mentions/<int:mention_id>/labels/", views.correct_label, name="correct_label"),
]
