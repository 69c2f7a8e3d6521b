from __future__ import annotations

from django.urls import path

from editor import (
    batch_views,
    credits_views,
    download_views,
    feed_views,
    gallery_views,
    share_views,
    usage_views,
    vault_views,
    views,
)

app_name = "editor"

urlpatterns = [
    path("", views.home, name="home"),
    path("studio/", views.studio, name="studio"),
    path("gallery/", gallery_views.gallery, name="gallery"),
    path("vault/", vault_views.vault, name="vault"),
    path("vault/add/", vault_views.add_key, name="vault_add"),
    path("vault/<uuid:key_id>/", vault_views.key_row, name="vault_key"),
    path("vault/<uuid:key_id>/edit/", vault_views.edit_key, name="vault_edit"),
    path("vault/<uuid:key_id>/delete/", vault_views.delete_key, name="vault_delete"),
    path("vault/<uuid:key_id>/credits/", credits_views.key_credits, name="vault_credits"),
    path("usage/", usage_views.usage, name="usage"),
    path("studio/<slug:slug>/", views.operation, name="operation"),
    path("studio/<slug:slug>/presets/", views.preset_save, name="preset_save"),
    path(
        "studio/<slug:slug>/presets/<uuid:preset_id>/delete/",
        views.preset_delete,
        name="preset_delete",
    ),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/delete/", gallery_views.job_delete, name="job_delete"),
    path("jobs/<uuid:job_id>/inputs/<slug:role>/", views.job_input, name="job_input"),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/",
        views.result_file,
        name="result_file",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/thumbnail/",
        views.result_thumbnail,
        name="result_thumbnail",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/download/",
        download_views.result_download,
        name="result_download",
    ),
    path(
        "jobs/<uuid:job_id>/results/<uuid:result_id>/share/",
        share_views.share_new,
        name="share_new",
    ),
    path("shares/", share_views.shares, name="shares"),
    path("shares/<uuid:link_id>/revoke/", share_views.share_revoke, name="share_revoke"),
    # Public: the token (43 URL-safe characters) is the only key. Log lines redact it
    # (config.log_filters).
    path("s/<slug:token>/", share_views.shared, name="shared"),
    path("s/<slug:token>/<slug:kind>/", share_views.shared_file, name="shared_file"),
    path("jobs/feed/", feed_views.job_feed, name="job_feed"),
    path("drafts/<uuid:draft_id>/", views.draft_file, name="draft_file"),
    path("batches/<uuid:batch_id>/", batch_views.batch_detail, name="batch"),
    path("batches/<uuid:batch_id>/zip/", batch_views.batch_zip, name="batch_zip"),
]
