from __future__ import annotations

from django.urls import path

from editor.pages import (
    albums,
    batches,
    credits,
    downloads,
    feed,
    gallery,
    jobs,
    notifications,
    recipes,
    shares,
    studio,
    usage,
    vault,
)

app_name = "editor"

urlpatterns = [
    path("", studio.home, name="home"),
    path("studio/", studio.studio, name="studio"),
    path("gallery/", gallery.gallery, name="gallery"),
    path("vault/", vault.vault, name="vault"),
    path("vault/add/", vault.add_key, name="vault_add"),
    path("vault/<uuid:key_id>/", vault.key_row, name="vault_key"),
    path("vault/<uuid:key_id>/edit/", vault.edit_key, name="vault_edit"),
    path("vault/<uuid:key_id>/delete/", vault.delete_key, name="vault_delete"),
    path("vault/<uuid:key_id>/credits/", credits.key_credits, name="vault_credits"),
    path("usage/", usage.usage_page, name="usage"),
    path("account/notifications/", notifications.notifications, name="notifications"),
    path("studio/<slug:slug>/", studio.operation, name="operation"),
    path("studio/<slug:slug>/presets/", studio.preset_save, name="preset_save"),
    path(
        "studio/<slug:slug>/presets/<uuid:preset_id>/delete/",
        studio.preset_delete,
        name="preset_delete",
    ),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", jobs.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/delete/", jobs.job_delete, name="job_delete"),
    path("jobs/<uuid:job_id>/inputs/<slug:role>/", jobs.job_input, name="job_input"),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/",
        jobs.result_file,
        name="result_file",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/thumbnail/",
        jobs.result_thumbnail,
        name="result_thumbnail",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/download/",
        downloads.result_download,
        name="result_download",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/share/",
        shares.share_new,
        name="share_new",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/album/",
        albums.album_add,
        name="album_add",
    ),
    path("albums/", albums.album_list, name="albums"),
    path("albums/<uuid:album_id>/", albums.album_detail, name="album"),
    path("albums/<uuid:album_id>/rename/", albums.album_rename, name="album_rename"),
    path("albums/<uuid:album_id>/delete/", albums.album_delete, name="album_delete"),
    path("albums/<uuid:album_id>/share/", albums.album_share, name="album_share"),
    path("albums/<uuid:album_id>/revoke-all/", albums.album_revoke_all, name="album_revoke_all"),
    path(
        "albums/<uuid:album_id>/photos/<uuid:result_id>/move/",
        albums.album_move,
        name="album_move",
    ),
    path(
        "albums/<uuid:album_id>/photos/<uuid:result_id>/remove/",
        albums.album_remove,
        name="album_remove",
    ),
    path("shares/", shares.share_list, name="shares"),
    path("shares/revoke-all/", shares.share_revoke_all, name="shares_revoke_all"),
    path("shares/<uuid:link_id>/revoke/", shares.share_revoke, name="share_revoke"),
    # Public: the token (43 URL-safe characters) is the only key. Log lines redact it
    # (config.log_filters).
    path("s/<slug:token>/", shares.shared, name="shared"),
    path("s/<slug:token>/album/zip/", shares.shared_album_zip, name="shared_album_zip"),
    path(
        "s/<slug:token>/album/<uuid:item_id>/",
        shares.shared_album_photo,
        name="shared_album_photo",
    ),
    path("s/<slug:token>/<slug:kind>/", shares.shared_file, name="shared_file"),
    path("jobs/feed/", feed.job_feed, name="job_feed"),
    path("drafts/<uuid:draft_id>/", studio.draft_file, name="draft_file"),
    path("batches/<uuid:batch_id>/", batches.batch_detail, name="batch"),
    path("batches/<uuid:batch_id>/zip/", batches.batch_zip, name="batch_zip"),
    path("recipes/", recipes.recipe_list, name="recipes"),
    path("recipes/import/", recipes.recipe_import, name="recipe_import"),
    path("recipes/new/", recipes.recipe_builder, name="recipe_new"),
    path("recipes/<uuid:recipe_id>/edit/", recipes.recipe_builder, name="recipe_edit"),
    path("recipes/<uuid:recipe_id>/export/", recipes.recipe_export, name="recipe_export"),
    path("recipes/<uuid:recipe_id>/delete/", recipes.recipe_delete, name="recipe_delete"),
    path("recipes/<uuid:recipe_id>/run/", recipes.recipe_start, name="recipe_start"),
    path("recipes/runs/<uuid:run_id>/", recipes.recipe_run, name="recipe_run"),
    path(
        "recipes/runs/<uuid:run_id>/steps/<int:number>/retry/",
        recipes.recipe_step_retry,
        name="recipe_step_retry",
    ),
]
