from django.urls import path

from hubbub.listening import views

app_name = "listening"

urlpatterns = [
    path("listening/queries/", views.queries, name="queries"),
    path("listening/queries/new/", views.query_editor, name="new_query"),
    path("listening/queries/check/", views.check_query, name="check_query"),
    path("listening/queries/<int:query_id>/", views.query_editor, name="query"),
    path("listening/queries/<int:query_id>/delete/", views.delete_query, name="delete_query"),
]
