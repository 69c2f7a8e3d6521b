"""What AILabTools' written contract fixes, as data: endpoints, the key header, polling, where
result images may come from, and each operation's input limits (vendor-contracts.md, §n)."""

from __future__ import annotations

from editor.images import ImageLimits
from editor.vendors.http import Origin

LABEL = "AILabTools"
API_KEY_HEADER = "ailabapi-api-key"  # §1.1, openapi.json securitySchemes.apiKeyAuth
POLL_SECONDS = 5.0  # §2.3 and §2.4: "query every 5 seconds"

RETOUCH_PATH = "/api/image/editing/photo-retouching"  # §3
EXTEND_PATH = "/api/image/editing/ai-image-extender"  # §4
EXPRESSION_PATH = "/api/portrait/effects/emotion-editor"  # §5
EXPRESSION_ADVANCED_PATH = "/api/portrait/effects/emotion-editor-advanced"  # §5, async
COLOR_MIGRATION_PATH = "/api/image/effects/image-hd-color-migration"  # §2, retired
ASYNC_RESULT_PATH = "/api/common/query-async-task-result"  # §2.4 (task_id contract)
LEGACY_RESULT_PATH = "/api/image/asyn-task-results"  # §2.3 (request_id contract)
LEGACY_TASK_TYPE = "HD_COLOUR_MIGRATION"  # §2.3, the `type` query value
CREDITS_PATH = "/api/common/query-credits"  # §1.5, the account's credit balances

# Where result images live is NOT documented: the docs only say result URLs are temporary and
# expire after 24 h (§1.4). These are the vendor's own domains (its doc assets are served from
# ai-resource.ailabtools.com) and Alibaba Cloud OSS, which color migration wraps (§2.1).
# Administrators add any other host with VENDOR_RESULT_HOSTS.
RESULT_ORIGINS: tuple[Origin, ...] = (
    Origin.parse("https://*.ailabapi.com"),
    Origin.parse("https://*.ailabtools.com"),
    Origin.parse("https://*.aliyuncs.com"),
)

# "No more than N MB" is read as decimal megabytes: the smaller reading, so a file we send fits
# whichever one the vendor means. Pixel bounds are strict in the docs ("larger than 32x32,
# smaller than 3000x3000"), so the inclusive bounds here sit one pixel inside them.
_MB = 1_000_000
_JPEG_PNG = frozenset({"JPEG", "PNG"})
_RETOUCH = ImageLimits(_JPEG_PNG, 3 * _MB, 2999, 2999, 33, 33)  # §3
_EXTEND = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095, 65, 65)  # §4
# The mask is made by images.fit_mask (grayscale PNG at the photo's size); same file limits as
# the photo, but it must stay single-channel.
_EXTEND_MASK = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095, 65, 65, rgb_only=False)
_EXPRESSION = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095)  # §5: "less than 4096x4096"
_EXPRESSION_ADVANCED = ImageLimits(frozenset({"JPEG", "PNG", "WEBP"}), 10 * _MB, 4095, 4095)
# §2.2: PNG/JPG/JPEG, ≤3 MB, >64x64 and <10000x10000, "RGB 3-channel". `ref`: same [I].
_COLOR_MIGRATION = ImageLimits(_JPEG_PNG, 3 * _MB, 9999, 9999, 65, 65, rgb_only=True)

LIMITS: dict[tuple[str, str], ImageLimits] = {
    ("retouch", "image"): _RETOUCH,
    ("retouch", "style"): _RETOUCH,  # §3: the limits apply to both files [I]
    ("extend", "image"): _EXTEND,
    ("extend", "mask"): _EXTEND_MASK,
    ("expression", "image"): _EXPRESSION,
    ("expression_advanced", "image"): _EXPRESSION_ADVANCED,
    ("color_migration", "image"): _COLOR_MIGRATION,
    ("color_migration", "ref"): _COLOR_MIGRATION,
}
