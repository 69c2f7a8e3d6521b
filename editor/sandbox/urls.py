"""The sandbox's own URLconf, used through ``request.urlconf`` (never ROOT_URLCONF)."""

from __future__ import annotations

from django.urls import path, re_path

from editor.sandbox import views

urlpatterns = [
    # AILabTools (https://www.ailabapi.com)
    path("api/image/editing/photo-retouching", views.photo_retouching),
    path("api/image/editing/ai-image-extender", views.ai_image_extender),
    path("api/portrait/effects/emotion-editor", views.emotion_editor),
    path("api/portrait/effects/emotion-editor-advanced", views.emotion_editor_advanced),
    path("api/image/effects/image-hd-color-migration", views.hd_color_migration),
    path("api/common/query-async-task-result", views.query_async_task_result),
    path("api/image/asyn-task-results", views.asyn_task_results),
    path("api/common/query-credits", views.query_credits),
    # PicWish (https://techhk.aoscdn.com)
    path("api/tasks/visual/colorization", views.colorization_create),
    path("api/tasks/visual/colorization/<str:task_id>", views.colorization_result),
    # Signed result URLs, as a cloud bucket serves them
    re_path(r"^results/(?P<token>[A-Za-z0-9_-]+)\.(?P<ext>jpg|png|webp)$", views.result_file),
    # Anything else: a JSON 404 whatever DEBUG says, as an API gateway answers.
    re_path(r"", views.not_found),
]

handler404 = views.not_found
handler500 = views.server_error
