"""The color science of the built-in engine: OKLab, the photo's dominant colors (k-means), how
they move in each mode, and the lookup tables that carry the moves to every pixel."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import ImageFilter

Floats = npt.NDArray[np.float64]

LUT_SIZE = 33  # the usual .cube resolution: smooth enough for trilinear interpolation
KMEANS_SAMPLE = 20_000  # pixels of a photo's statistics that the k-means sees
KMEANS_ROUNDS = 25

# OKLab (Björn Ottosson, https://bottosson.github.io/posts/oklab/): linear sRGB -> LMS -> Lab.
# Hue rotations in OKLab keep perceived lightness and saturation, which CIELab does not for blues.
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
# Inverted here rather than copied, so that a round trip is exact to float precision and
# degree 0 gives back the photo. Stored transposed and contiguous: colors are rows, and numpy's
# matmul is several times faster on a contiguous right-hand side.
_RGB_TO_LMS_T = np.ascontiguousarray(_RGB_TO_LMS.T)
_LMS_TO_LAB_T = np.ascontiguousarray(_LMS_TO_LAB.T)
_LMS_TO_RGB_T = np.ascontiguousarray(np.linalg.inv(_RGB_TO_LMS).T)
_LAB_TO_LMS_T = np.ascontiguousarray(np.linalg.inv(_LMS_TO_LAB).T)

# Clusters should follow color more than brightness: lightness spans 0-1 while a and b rarely
# leave ±0.3, so without this weight k-means would mostly slice the photo into brightness bands.
_FEATURE_WEIGHTS = np.array([0.4, 1.0, 1.0])
# Inverse-distance (Shepard) weights: exactly one cluster's move at its center, a smooth blend in
# between, so no hard edge can appear in a gradient.
_SHEPARD_EPSILON = 0.02
_SHEPARD_POWER = 2.0
# Low-chroma pixels (whites, grays, blacks) keep at least this share of a move but no more:
# AILabTools' results keep neutrals neutral, and a gray photo still gets a gentle tint.
_NEUTRAL_FLOOR = 0.35
_NEUTRAL_CHROMA = 0.03  # below this OKLab chroma a dominant color counts as a gray
_FAMILY_HUE = math.radians(25)  # dominant colors closer in hue than this are one family
_TEMPLATE_LIGHTNESS_PULL = 0.3  # palette colors move lightness a little, hue and chroma fully
_TEMPLATE_SKIN_KEEP = 0.4  # Alibaba: skin only moves with two or more palette colors, and gently
_AUTO_SKIN_KEEP = 0.65  # hue-rotated faces look ill; keep most of their tone
_AUTO_HARMONY = 0.25  # AUTO pulls other hues this much toward the family hue
_AUTO_MIN_CHROMA = 0.06  # a dull photo's main color is lifted to this chroma so families differ
_REF_SKIN_KEEP = 0.3  # faces take a reference's cast, but keep a little of their own tone
_REF_LIGHTNESS_SHARE = 0.5  # REF_PIC transfers color fully but lightness only halfway


# --- One lookup table per result ----------------------------------------------------------------


def reference_target(photo: Floats, reference: Floats, degree: float) -> Floats:
    """REF_PIC: the photo's colors (OKLab statistics) take on the reference photo's."""
    lab = _lut_lab()
    # Neutrals do take the reference's cast: that is the point of a reference.
    strength = degree * _protection(lab, _REF_SKIN_KEEP, neutral_floor=1.0)
    return _blend(lab, _transfer(lab, photo, reference), strength)


def palette_target(photo: Floats, palette: Sequence[tuple[int, int, int]], degree: float) -> Floats:
    """TEMPLATE: the photo's top color families move onto the palette's colors."""
    lab = _lut_lab()
    centers, shares = _dominant_colors(photo, max(6, len(palette)))
    moves = _template_moves(centers, shares, _palette_lab(palette))
    strength = degree * _protection(lab, _TEMPLATE_SKIN_KEEP)
    return _blend(lab, _move(lab, centers, moves), strength)


def auto_targets(photo: Floats, count: int, degree: float) -> list[Floats]:
    """AUTO: ``count`` color families, one table each."""
    lab = _lut_lab()
    centers, shares = _dominant_colors(photo, 6)
    strength = degree * _protection(lab, _AUTO_SKIN_KEEP)
    return [
        _blend(lab, _move(lab, centers, moves), strength)
        for moves in _auto_moves(centers, shares, count)
    ]


def _lut_lab() -> Floats:
    """Every table point in OKLab."""
    return srgb_to_oklab(_lut_grid())


# --- Color science ------------------------------------------------------------------------------


def srgb_to_oklab(rgb: Floats) -> Floats:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    result: Floats = np.cbrt(linear @ _RGB_TO_LMS_T) @ _LMS_TO_LAB_T
    return result


def _oklab_to_linear(lab: Floats) -> Floats:
    result: Floats = ((lab @ _LAB_TO_LMS_T) ** 3) @ _LMS_TO_RGB_T
    return result


def _linear_to_srgb(linear: Floats) -> Floats:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def _in_gamut(linear: Floats) -> npt.NDArray[np.bool_]:
    result: npt.NDArray[np.bool_] = np.all((linear >= -1e-6) & (linear <= 1 + 1e-6), axis=-1)
    return result


def _oklab_to_srgb(lab: Floats) -> Floats:
    """Back to sRGB; colors outside it lose chroma at constant lightness and hue, because a
    plain clip would shift their hue (a too-saturated blue clips to purple)."""
    lab = lab.copy()
    lab[:, 0] = np.clip(lab[:, 0], 0.0, 1.0)
    linear = _oklab_to_linear(lab)
    outside = ~_in_gamut(linear)
    if outside.any():
        points = lab[outside]
        low, high = np.zeros(len(points)), np.ones(len(points))
        for _ in range(18):  # bisection on the chroma factor, to 1/2^18
            middle = (low + high) / 2
            trial = points * np.column_stack([np.ones_like(middle), middle, middle])
            fits = _in_gamut(_oklab_to_linear(trial))
            low, high = np.where(fits, middle, low), np.where(fits, high, middle)
        points = points * np.column_stack([np.ones_like(low), low, low])
        linear[outside] = _oklab_to_linear(points)
    return _linear_to_srgb(linear)


def _lut_grid() -> Floats:
    """Every table point as sRGB in 0-1, red varying fastest (Pillow's table order)."""
    axis = np.linspace(0.0, 1.0, LUT_SIZE)
    blue, green, red = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([red, green, blue], axis=-1).reshape(-1, 3)


def to_lut(target: Floats) -> ImageFilter.Color3DLUT:
    return ImageFilter.Color3DLUT(LUT_SIZE, target.astype(np.float32))


def _blend(lab: Floats, moved: Floats, strength: Floats) -> Floats:
    """``degree`` (scaled by any protection) of the way from each color to its moved color."""
    return _oklab_to_srgb(lab + strength[:, None] * (moved - lab))


def _smoothstep(edge0: float, edge1: float, value: Floats) -> Floats:
    t = np.clip((value - edge0) / (edge1 - edge0), 0.0, 1.0)
    result: Floats = t * t * (3 - 2 * t)
    return result


def _chroma_hue(lab: Floats) -> tuple[Floats, Floats]:
    return np.hypot(lab[..., 1], lab[..., 2]), np.arctan2(lab[..., 2], lab[..., 1])


def _protection(lab: Floats, skin_keep: float, neutral_floor: float = _NEUTRAL_FLOOR) -> Floats:
    """The share of a move each color takes: less for neutrals and for skin tones."""
    chroma, hue = _chroma_hue(lab)
    neutral = neutral_floor + (1 - neutral_floor) * _smoothstep(0.015, 0.06, chroma)
    # Skin in OKLab: hue about 40-78°, chroma 0.05-0.13, lightness 0.35-0.92 across light to
    # dark skin (measured on common skin swatches).
    turn = np.angle(np.exp(1j * (hue - math.radians(60))))
    skin = (
        np.exp(-0.5 * (turn / math.radians(16)) ** 2)
        * _smoothstep(0.03, 0.06, chroma)
        * (1 - _smoothstep(0.13, 0.18, chroma))
        * _smoothstep(0.28, 0.38, lab[:, 0])
        * (1 - _smoothstep(0.93, 0.98, lab[:, 0]))
    )
    result: Floats = neutral * (1 - skin_keep * skin)
    return result


# --- Dominant colors and how they move ----------------------------------------------------------


def _dominant_colors(pixels: Floats, count: int) -> tuple[Floats, Floats]:
    """k-means in weighted OKLab with a fixed seed, so the same photo always gives the same
    colors. Returns the centers and each one's share of the pixels, largest first."""
    rng = np.random.default_rng(0)
    if len(pixels) > KMEANS_SAMPLE:
        pixels = pixels[rng.choice(len(pixels), KMEANS_SAMPLE, replace=False)]
    features = pixels * _FEATURE_WEIGHTS
    # k-means++ seeding; stops early when the photo has fewer distinct colors than asked.
    centers = [features[rng.integers(len(features))]]
    for _ in range(count - 1):
        distance = np.min(((features[:, None, :] - np.array(centers)) ** 2).sum(-1), axis=1)
        total = distance.sum()
        if total <= 1e-12:
            break
        centers.append(features[rng.choice(len(features), p=distance / total)])
    means = np.array(centers)
    labels = np.zeros(len(features), dtype=np.intp)
    squared = (features**2).sum(axis=1, keepdims=True)
    for _ in range(KMEANS_ROUNDS):
        # |x - c|² = |x|² - 2x·c + |c|²: one matmul instead of an (n, k, 3) temporary.
        labels = np.argmin(squared - 2 * features @ means.T + (means**2).sum(axis=1), axis=1)
        updated = means.copy()
        for index in range(len(means)):
            members = features[labels == index]
            if len(members):
                updated[index] = members.mean(axis=0)
        if np.allclose(updated, means, atol=1e-6):
            break
        means = updated
    shares = np.bincount(labels, minlength=len(means)) / len(labels)
    keep = shares > 0
    order = np.argsort(-shares[keep], kind="stable")
    return (means[keep] / _FEATURE_WEIGHTS)[order], shares[keep][order]


@dataclass(frozen=True)
class Move:
    """How the colors near one dominant color move: ab' = scale·R(turn)·ab + shift, L' = L + lift.

    Defined so that the dominant color itself lands exactly on its target; its neighbours keep
    their differences to it (texture, shading) turned and scaled alike.
    """

    turn: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    lift: float = 0.0

    @classmethod
    def onto(cls, center: Floats, target: Floats, lightness_pull: float) -> Move:
        chroma, hue = _chroma_hue(center)
        target_chroma, target_hue = _chroma_hue(target)
        turn = float(target_hue - hue)
        # Bounded so a nearly gray cluster does not explode into noise; the shift makes up the
        # rest, so the center still lands on the target.
        scale = float(np.clip(target_chroma / max(float(chroma), 1e-6), 0.3, 3.0))
        turned = _rotate(center[1:], turn, scale)
        shift = (float(target[1] - turned[0]), float(target[2] - turned[1]))
        return cls(turn, scale, shift, lightness_pull * float(target[0] - center[0]))


def _rotate(ab: Floats, turn: float, scale: float) -> Floats:
    cos, sin = math.cos(turn) * scale, math.sin(turn) * scale
    return np.stack([cos * ab[..., 0] - sin * ab[..., 1], sin * ab[..., 0] + cos * ab[..., 1]], -1)


def _move(lab: Floats, centers: Floats, moves: Sequence[Move]) -> Floats:
    distance = (((lab[:, None, :] - centers[None]) * _FEATURE_WEIGHTS) ** 2).sum(-1)
    weights = 1.0 / (distance + _SHEPARD_EPSILON**2) ** _SHEPARD_POWER
    weights /= weights.sum(axis=1, keepdims=True)
    moved = np.zeros_like(lab)
    for index, move in enumerate(moves):
        ab = _rotate(lab[:, 1:], move.turn, move.scale) + np.array(move.shift)
        result = np.column_stack([lab[:, 0] + move.lift, ab])
        moved += weights[:, index, None] * result
    return moved


def _prominence(centers: Floats, shares: Floats) -> Floats:
    # "Top master colors" are the colorful ones that cover the photo: a gray wall is large but
    # is not what a palette should recolor first.
    chroma, _ = _chroma_hue(centers)
    result: Floats = shares * (0.25 + 0.75 * _smoothstep(0.02, 0.08, chroma))
    return result


def _palette_lab(palette: Sequence[tuple[int, int, int]]) -> Floats:
    return srgb_to_oklab(np.array(palette, dtype=np.float64) / 255.0)


def _families(centers: Floats, shares: Floats) -> list[list[int]]:
    """Dominant colors grouped into hue families, most prominent family first.

    k-means slices a sky gradient into several clusters of one hue; a palette color must take
    the whole gradient, never a band of it. Colorful clusters within ``_FAMILY_HUE`` of each
    other join (single linkage, so a gradient chains into one family); near-grays form one
    family of their own.
    """
    chroma, hue = _chroma_hue(centers)
    colorful = chroma >= _NEUTRAL_CHROMA
    family = list(range(len(centers)))

    def root(index: int) -> int:
        while family[index] != index:
            index = family[index]
        return index

    for first, second in itertools.combinations(range(len(centers)), 2):
        apart = abs(float(np.angle(np.exp(1j * (hue[first] - hue[second])))))
        if colorful[first] == colorful[second] and (not colorful[first] or apart < _FAMILY_HUE):
            family[root(second)] = root(first)
    groups: dict[int, list[int]] = {}
    for index in range(len(centers)):
        groups.setdefault(root(index), []).append(index)
    prominence = _prominence(centers, shares)
    return sorted(groups.values(), key=lambda members: -float(prominence[members].sum()))


def _template_moves(centers: Floats, shares: Floats, palette: Floats) -> list[Move]:
    """The photo's top color families, as many as the palette has (Alibaba: "top master color
    list"), each onto one palette color, paired so that colors move as little as possible
    overall; the other families stay.

    Grays and whites are not offered a palette color (a white wall turned pink is not what a
    palette asks for), so a photo with fewer color families than the palette has colors leaves
    some unused; a photo of nothing but grays takes a tint of the best-matching one.
    """
    chroma, _ = _chroma_hue(centers)
    families = _families(centers, shares)
    colorful = [members for members in families if chroma[members[0]] >= _NEUTRAL_CHROMA]
    families = (colorful or families)[: len(palette)]
    # A family's color: its members' centers weighted by how many pixels each holds.
    means = np.array(
        [np.average(centers[members], axis=0, weights=shares[members]) for members in families]
    )
    cost = np.sqrt((((means[:, None, :] - palette[None]) * _FEATURE_WEIGHTS) ** 2).sum(-1))
    # At most 7! = 5040 pairings: exhaustive search is exact and instant.
    best = min(
        itertools.permutations(range(len(palette)), len(families)),
        key=lambda pairing: sum(cost[row, column] for row, column in enumerate(pairing)),
    )
    moves = [Move() for _ in centers]
    for row, column in enumerate(best):
        # One affine move for the whole family keeps the differences within it (the gradient).
        move = Move.onto(means[row], palette[column], _TEMPLATE_LIGHTNESS_PULL)
        for member in families[row]:
            moves[member] = move
    return moves


def _auto_moves(centers: Floats, shares: Floats, count: int) -> list[list[Move]]:
    """``count`` color families: the main color's hue turned by evenly spread angles (never by
    zero, so every result differs from the photo and from each other), the other colors turned
    alike and drawn a little toward the family hue so each result reads as one family."""
    main = int(np.argmax(_prominence(centers, shares)))
    chroma, hue = _chroma_hue(centers)
    colorful = _smoothstep(0.02, 0.06, chroma)
    lift = max(0.0, _AUTO_MIN_CHROMA - float(chroma[main]))
    families = []
    for family in range(count):
        angle = 2 * math.pi * (family + 1) / (count + 1)
        moves = []
        for index in range(len(centers)):
            offset = float(np.angle(np.exp(1j * (hue[index] - hue[main]))))
            turn = angle - _AUTO_HARMONY * offset * float(colorful[index])
            shift = (0.0, 0.0)
            if index == main and lift > 0:
                direction = float(hue[main]) + angle
                shift = (lift * math.cos(direction), lift * math.sin(direction))
            moves.append(Move(turn=turn, shift=shift))
        families.append(moves)
    return families


# --- Reference transfer -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bands:
    """Color statistics of one photo: overall lightness, and the mean a/b of its shadows,
    midtones and highlights (thirds by lightness) with the spread around them."""

    lightness_mean: float
    lightness_std: float
    centers: Floats  # lightness at the middle of each third
    means: Floats  # (3, 2) mean a, b per third
    spread: Floats  # (2,) standard deviation of a, b around their band means

    @classmethod
    def of(cls, pixels: Floats) -> Bands:
        lightness = pixels[:, 0]
        edges = np.quantile(lightness, [0, 1 / 3, 2 / 3, 1])
        band = np.clip(np.searchsorted(edges[1:-1], lightness, side="right"), 0, 2)
        overall = pixels[:, 1:].mean(axis=0)
        means = np.array(
            [
                pixels[band == index, 1:].mean(axis=0) if (band == index).any() else overall
                for index in range(3)
            ]
        )
        centers = np.quantile(lightness, [1 / 6, 1 / 2, 5 / 6])
        # np.interp needs rising positions; a flat photo has three equal ones.
        centers = np.maximum.accumulate(centers) + np.arange(3) * 1e-6
        residual = pixels[:, 1:] - means[band]
        return cls(
            float(lightness.mean()),
            float(lightness.std()),
            centers,
            means,
            residual.std(axis=0),
        )


def _transfer(lab: Floats, photo: Floats, reference: Floats) -> Floats:
    """Reinhard-style transfer in OKLab (https://doi.org/10.1109/38.946629), per lightness band:
    the photo's shadows take the reference's shadow tint, its highlights the highlight tint, and
    color spread is scaled to the reference's. Ratios are bounded so a flat photo or reference
    cannot blow noise up or wash everything out."""
    source, target = Bands.of(photo), Bands.of(reference)
    lightness = lab[:, 0]
    source_mean = np.column_stack(
        [np.interp(lightness, source.centers, source.means[:, i]) for i in (0, 1)]
    )
    target_mean = np.column_stack(
        [np.interp(lightness, source.centers, target.means[:, i]) for i in (0, 1)]
    )
    ratio = np.clip(target.spread / np.maximum(source.spread, 1e-6), 0.5, 2.0)
    ab = target_mean + ratio * (lab[:, 1:] - source_mean)
    light_ratio = float(np.clip(target.lightness_std / max(source.lightness_std, 1e-6), 0.6, 1.6))
    matched = (lightness - source.lightness_mean) * light_ratio + target.lightness_mean
    return np.column_stack([lightness + _REF_LIGHTNESS_SHARE * (matched - lightness), ab])
