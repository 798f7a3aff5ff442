from django.urls import path

from hubbub.care import views

app_name = "care"

urlpatterns = [
    path("inbox/conversations/<int:conversation_id>/", views.conversation, name="conversation"),
    path(
        "listening/mentions/<int:mention_id>/conversation/",
        views.open_from_mention,
        name="open_from_mention",
    ),
]
