"""The sandbox's own URLconf, used through ``request.urlconf`` (never ROOT_URLCONF)."""

from __future__ import annotations

from django.urls import path, re_path

from editor.sandbox import ailabtools, gateway, picwish, results

urlpatterns = [
    # AILabTools (https://www.ailabapi.com)
    path("api/image/editing/photo-retouching", ailabtools.photo_retouching),
    path("api/image/editing/ai-image-extender", ailabtools.ai_image_extender),
    path("api/portrait/effects/emotion-editor", ailabtools.emotion_editor),
    path("api/portrait/effects/emotion-editor-advanced", ailabtools.emotion_editor_advanced),
    path("api/image/effects/image-hd-color-migration", ailabtools.hd_color_migration),
    path("api/common/query-async-task-result", ailabtools.query_async_task_result),
    path("api/image/asyn-task-results", ailabtools.asyn_task_results),
    path("api/common/query-credits", ailabtools.query_credits),
    # PicWish (https://techhk.aoscdn.com)
    path("api/tasks/visual/colorization", picwish.colorization_create),
    path("api/tasks/visual/colorization/<str:task_id>", picwish.colorization_result),
    # Signed result URLs, as a cloud bucket serves them
    re_path(r"^results/(?P<token>[A-Za-z0-9_-]+)\.(?P<ext>jpg|png|webp)$", results.result_file),
    # Anything else: a JSON 404 whatever DEBUG says, as an API gateway answers.
    re_path(r"", gateway.not_found),
]

handler404 = gateway.not_found
handler500 = gateway.server_error
