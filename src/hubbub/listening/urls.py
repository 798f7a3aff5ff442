from django.urls import path

from hubbub.listening import views

app_name = "listening"

urlpatterns = [
    path("listening/queries/", views.queries, name="queries"),
    path("listening/queries/new/", views.query_editor, name="new_query"),
    path("listening/queries/check/", views.check_query, name="check_query"),
    path("listening/queries/<int:query_id>/", views.query_editor, name="query"),
    path("listening/queries/<int:query_id>/delete/", views.delete_query, name="delete_query"),
    path("listening/routing/", views.routing, name="routing"),
    path("listening/routing/<int:rule_id>/", views.routing_rule, name="routing_rule"),
    path(
        "listening/routing/<int:rule_id>/move/", views.move_routing_rule, name="move_routing_rule"
    ),
    path(
        "listening/routing/<int:rule_id>/delete/",
        views.delete_routing_rule,
        name="delete_routing_rule",
    ),
    path("listening/mentions/<int:mention_id>/", views.mention, name="mention"),
    path("settings/pipeline/", views.pipeline, name="pipeline"),
    path("settings/sources/", views.source_list, name="sources"),
    path("settings/sources/new/<slug:kind>/", views.new_source, name="new_source"),
    path("settings/sources/check/", views.check_source, name="check_source"),
    path("settings/sources/<int:source_id>/", views.source_detail, name="source"),
    path(
        "settings/sources/<int:source_id>/<slug:action>/",
        views.source_status,
        name="source_status",
    ),
    path("settings/pipeline/replay/", views.replay_dead_posts, name="replay_dead_posts"),
]
