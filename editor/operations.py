"""Each photo operation, declared once: label, help, parameters with the vendors' ranges and
defaults, input files, providers and their credit costs.

The forms, their validation, the job's stored parameters and the API all come from these
declarations. Ranges and defaults are the vendors' documented ones (vendor-contracts.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from editor.models import Vendor
from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.ailabtools.expressions import ADVANCED_EXPRESSIONS, CLASSIC_EXPRESSIONS
from editor.vendors.base import VendorAdapter
from editor.vendors.local.adapter import LocalAdapter
from editor.vendors.picwish import PicWishAdapter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise as Label


@dataclass(frozen=True)
class Param:
    """One parameter, named as the vendor names it."""

    name: str
    label: Label
    kind: str  # "choice", "int", "float", "text", "colors"
    default: Any = None
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[tuple[str, Label], ...] = ()
    help: Label = ""
    providers: frozenset[str] | None = None  # None: every provider of the operation
    when: tuple[str, str] | None = None  # only when another parameter has this value
    max_items: int = 0  # "colors": how many
    max_words: int = 0  # "text": advisory word limit the vendor reads
    # "choice": a line about each value, for the page's picker cards.
    descriptions: tuple[tuple[str, Label], ...] = ()


@dataclass(frozen=True)
class FileInput:
    role: str  # "image", "style", "ref", "mask"
    label: Label
    required: bool = True
    help: Label = ""
    when: tuple[str, str] | None = None
    providers: frozenset[str] | None = None


@dataclass(frozen=True)
class Provider:
    name: str
    label: Label
    adapter: type[VendorAdapter]
    vendor: Vendor | None  # None: runs in our own workers, no key
    vendor_operation: str
    credits: int


@dataclass(frozen=True)
class Operation:
    slug: str
    label: Label
    summary: Label
    params: tuple[Param, ...]
    files: tuple[FileInput, ...]
    providers: tuple[Provider, ...]  # the first is the default
    deadline_seconds: int = 600
    help: Label = field(default="")

    def provider(self, name: str) -> Provider:
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise KeyError(name)

    @property
    def default_provider(self) -> Provider:
        return self.providers[0]

    def params_for(self, provider: Provider) -> tuple[Param, ...]:
        return tuple(
            param
            for param in self.params
            if param.providers is None or provider.name in param.providers
        )

    def files_for(self, provider: Provider) -> tuple[FileInput, ...]:
        return tuple(
            spec for spec in self.files if spec.providers is None or provider.name in spec.providers
        )

    def applies(self, condition: tuple[str, str] | None, values: Mapping[str, Any]) -> bool:
        return condition is None or str(values.get(condition[0])) == condition[1]

    def vendor_params(self, provider: Provider, values: Mapping[str, Any]) -> dict[str, Any]:
        """The stored parameters that this provider's call takes, in the vendor's types."""
        sent: dict[str, Any] = {}
        for param in self.params_for(provider):
            if not self.applies(param.when, values) or values.get(param.name) in (None, ""):
                continue
            value = values[param.name]
            sent[param.name] = tuple(value) if param.kind == "colors" else value
        return sent


PICWISH = Provider("picwish", "PicWish", PicWishAdapter, Vendor.PICWISH, "colorize", 1)
LOCAL = Provider("local", _("Built-in engine"), LocalAdapter, None, "color_migration", 0)
AILAB_MIGRATION = Provider(
    "ailabtools", "AILabTools", AILabToolsAdapter, Vendor.AILABTOOLS, "color_migration", 4
)
AILAB_RETOUCH = Provider(
    "ailabtools", "AILabTools", AILabToolsAdapter, Vendor.AILABTOOLS, "retouch", 3
)
AILAB_EXTEND = Provider(
    "ailabtools", "AILabTools", AILabToolsAdapter, Vendor.AILABTOOLS, "extend", 25
)
AILAB_EXPRESSION = Provider(
    "ailabtools", _("AILabTools (classic)"), AILabToolsAdapter, Vendor.AILABTOOLS, "expression", 12
)
AILAB_EXPRESSION_ADVANCED = Provider(
    "ailabtools_advanced",
    _("AILabTools Advanced"),
    AILabToolsAdapter,
    Vendor.AILABTOOLS,
    "expression_advanced",
    15,
)

RATIO_HELP = _("How far to extend this side, as a share of the photo (0 to 1).")

# The studio's words for the classic emotion editor's expressions, one pair per value of
# CLASSIC_EXPRESSIONS (vendor-contracts.md §5) and in its order: the vendor's name as a label we
# can translate, and our one-line reading of it (the vendor gives names only). The values come
# from the vendor's table alone; zip(strict=True) fails at import if the two lists drift apart.
CLASSIC_EXPRESSION_WORDS: tuple[tuple[Label, Label], ...] = (
    (_("Dimple smile"), _("A gentle smile that shows dimples in the cheeks.")),
    (_("Pear dimple smile"), _("A soft smile with small dimples by the corners of the mouth.")),
    (_("Big grin"), _("A wide, open smile that shows the teeth.")),
    (_("Standard grin"), _("A natural, friendly smile.")),
    (_("Cool pose"), _("A calm, confident look.")),
    (_("Sad"), _("Lowered mouth corners and a downcast look.")),
    (_("Forced smile"), _("A polite, slightly stiff smile.")),
    (_("Opening eyes"), _("Opens closed or half-closed eyes.")),
)
CLASSIC_EXPRESSION_CARDS: tuple[tuple[str, Label, Label], ...] = tuple(
    (str(value), label, about)
    for value, (label, about) in zip(CLASSIC_EXPRESSIONS, CLASSIC_EXPRESSION_WORDS, strict=True)
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        slug="colorize",
        label=_("Colorize"),
        summary=_("Bring natural color to black-and-white photos."),
        params=(
            Param(
                "format",
                _("Output format"),
                "choice",
                default="jpg",
                choices=(("jpg", "JPEG"), ("png", "PNG"), ("webp", "WebP")),
            ),
        ),
        files=(
            FileInput("image", _("Photo"), help=_("JPEG, PNG, WebP, HEIC or AVIF, up to 15 MB.")),
        ),
        providers=(PICWISH,),
        deadline_seconds=300,
    ),
    Operation(
        slug="color_migration",
        label=_("Color migration"),
        summary=_("Recolor a photo automatically, from a palette, or from a reference photo."),
        params=(
            Param(
                "mode",
                _("Mode"),
                "choice",
                default="AUTO",
                choices=(
                    ("AUTO", _("Automatic color families")),
                    ("TEMPLATE", _("From a palette")),
                    ("REF_PIC", _("From a reference photo")),
                ),
            ),
            Param(
                "degree",
                _("Strength"),
                "float",
                default=0.4,
                minimum=0.0,
                maximum=1.0,
                step=0.05,
                help=_("How strongly colors move: 0 keeps the photo, 1 goes all the way."),
            ),
            Param(
                "color_count",
                _("Color families"),
                "int",
                default=1,
                minimum=1,
                maximum=8,
                when=("mode", "AUTO"),
                help=_("How many recolored versions to make, one per color family."),
            ),
            Param(
                "color_template",
                _("Palette"),
                "colors",
                default=("DB0D0D", "0E0CBB"),
                when=("mode", "TEMPLATE"),
                max_items=7,
                help=_("1 to 7 colors as hex (e.g. DB0D0D). Two or more help skin tones move."),
            ),
        ),
        files=(
            FileInput("image", _("Photo"), help=_("JPEG or PNG.")),
            FileInput("ref", _("Reference photo"), when=("mode", "REF_PIC")),
        ),
        providers=(LOCAL, AILAB_MIGRATION),
        help=_(
            "AILabTools has retired this endpoint; the built-in engine runs it on this server "
            "at no credit cost."
        ),
    ),
    Operation(
        slug="retouch",
        label=_("Retouch from a style"),
        summary=_("Give a photo the look of a style reference."),
        params=(),
        files=(
            FileInput("image", _("Photo"), help=_("JPEG or PNG, up to 3 MB and 2999 px.")),
            FileInput("style", _("Style photo"), help=_("The look to copy.")),
        ),
        providers=(AILAB_RETOUCH,),
    ),
    Operation(
        slug="extend",
        label=_("Image extender"),
        summary=_("Extend the frame: the AI paints what lies beyond the edges."),
        params=(
            Param("top", _("Top"), "float", 0.1, minimum=0, maximum=1, step=0.05, help=RATIO_HELP),
            Param("bottom", _("Bottom"), "float", 0.1, minimum=0, maximum=1, step=0.05),
            Param("left", _("Left"), "float", 0.1, minimum=0, maximum=1, step=0.05),
            Param("right", _("Right"), "float", 0.1, minimum=0, maximum=1, step=0.05),
            Param(
                "custom_prompt",
                _("Prompt"),
                "text",
                default="",
                required=False,
                max_words=100,
                help=_("Optional, in English: what the new areas should show (about 100 words)."),
            ),
            Param(
                "steps",
                _("Steps"),
                "int",
                30,
                minimum=1,
                maximum=100,
                help=_("More is better but slower."),
            ),
            Param(
                "strength",
                _("Strength"),
                "float",
                0.8,
                minimum=0.1,
                maximum=1.0,
                step=0.05,
                help=_("Smaller stays closer to the original."),
            ),
            Param(
                "scale",
                _("Prompt influence"),
                "float",
                7.0,
                minimum=1,
                maximum=20,
                step=0.5,
            ),
            Param("seed", _("Seed"), "int", 0, minimum=-1, help=_("-1 picks a random seed.")),
            Param("max_width", _("Max width"), "int", 1920, minimum=0, maximum=8192),
            Param("max_height", _("Max height"), "int", 1920, minimum=0, maximum=8192),
        ),
        files=(
            FileInput("image", _("Photo"), help=_("JPEG or PNG, up to 5 MB and 4095 px.")),
            FileInput(
                "mask",
                _("Mask"),
                required=False,
                help=_("Optional: instead of the side ratios, the area to fill (white)."),
            ),
        ),
        providers=(AILAB_EXTEND,),
        deadline_seconds=900,
    ),
    Operation(
        slug="expression",
        label=_("Facial expression"),
        summary=_("Change the expression of a face in a portrait."),
        params=(
            Param(
                "service_choice",
                _("Expression"),
                "choice",
                default=CLASSIC_EXPRESSION_CARDS[0][0],
                choices=tuple((value, name) for value, name, _ in CLASSIC_EXPRESSION_CARDS),
                descriptions=tuple((value, about) for value, _n, about in CLASSIC_EXPRESSION_CARDS),
                providers=frozenset({"ailabtools"}),
            ),
            Param(
                "expression",
                _("Expression"),
                "choice",
                default=ADVANCED_EXPRESSIONS[0],
                choices=tuple(
                    (value, value.replace("_", " ").capitalize()) for value in ADVANCED_EXPRESSIONS
                ),
                providers=frozenset({"ailabtools_advanced"}),
            ),
        ),
        files=(FileInput("image", _("Portrait"), help=_("A photo with one clear face.")),),
        providers=(AILAB_EXPRESSION, AILAB_EXPRESSION_ADVANCED),
    ),
)

BY_SLUG = {operation.slug: operation for operation in OPERATIONS}


def get(slug: str) -> Operation:
    return BY_SLUG[slug]


def label_of(slug: str) -> str:
    """An operation's label as people read it; the slug itself for an operation no longer
    declared (old jobs keep theirs)."""
    operation = BY_SLUG.get(slug)
    return str(operation.label) if operation else slug


# Each provider by name, as first declared (a name stands for one provider in every operation).
PROVIDERS: dict[str, Provider] = {}
for _operation in OPERATIONS:
    for _provider in _operation.providers:
        PROVIDERS.setdefault(_provider.name, _provider)


def provider_label(name: str) -> str:
    provider = PROVIDERS.get(name)
    return str(provider.label) if provider else name
