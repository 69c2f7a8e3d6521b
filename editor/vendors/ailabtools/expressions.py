"""The values AILabTools' two facial-expression editors take (vendor-contracts.md §5)."""

from __future__ import annotations

import re

# The classic editor's current `service_choice` values (§5, V1.1.0 / current page).
CLASSIC_EXPRESSIONS: dict[int, str] = {
    10: "Dimple smile",
    11: "Pear dimple smile",
    12: "Big grin",
    13: "Standard grin",
    14: "Cool pose",
    15: "Sad",
    16: "Forced smile",
    100: "Opening eyes",
}
# V1.0.0/V1.0.1 values that V1.1.0 removed (§5); the SDK's spec.json still lists them (stale).
REMOVED_EXPRESSIONS: dict[int, str] = {0: "Big laugh", 1: "Pouting", 2: "Feel sad", 3: "Smile"}

# The advanced editor's `expression` enum: 117 values, in the order of the SDK's generated
# parameter docs ("Allowed values: natural_smile, bright_laugh, …", ailabtools-sdk, Change Facial
# Expressions Advanced API). The same 117 appear, grouped by family, in ailabtools-docs
# docs/ai-portrait/effects/emotion-editor-advanced/api.mdx.
ADVANCED_EXPRESSIONS: tuple[str, ...] = (
    # Happy
    "natural_smile",
    "bright_laugh",
    "sweet_smile",
    "happy_surprise",
    "proud_smirk",
    "laughing_with_tears",
    "crazy_happy_face",
    "overjoyed_screaming_laugh",
    # Angry
    "slight_annoyance",
    "angry_stare",
    "gritted_teeth_anger",
    "furious_shout",
    "cold_glare",
    "cartoon_rage_face",
    "angry_puffed_cheeks",
    "villain_angry_smirk",
    # Sad
    "downcast_sadness",
    "wronged_near_tears",
    "tearful_sadness",
    "heartbroken_breakdown",
    "silent_grief",
    "big_crying_face",
    "puppy_eyes_sad",
    "fake_crying_funny",
    # Funny
    "tongue_out_playful",
    "wink_cute",
    "silly_face",
    "mischievous_smirk",
    "exaggerated_surprised_face",
    "cross_eyed_silly_face",
    "one_eye_squint_funny",
    "duck_face_funny",
    "crazy_tongue_face",
    # Surprised
    "slight_surprise",
    "shocked_open_mouth",
    "disbelief",
    "fearful_surprise",
    "jaw_drop_surprise",
    "cartoon_shocked_face",
    "speechless_shock",
    # Fearful
    "nervous_fear",
    "terrified_expression",
    "timid_withdrawal",
    "panic_breakdown",
    "screaming_fear_face",
    "frozen_in_fear",
    "panic_wide_eyes",
    # Disgusted
    "mild_dislike",
    "strong_aversion",
    "nauseated_disgust",
    "eye_roll_disgust",
    "extreme_disgust_face",
    "grossed_out_face",
    "dramatic_eye_roll",
    # Shy / embarrassed
    "shy_smile",
    "blushing_shyness",
    "awkward_forced_smile",
    "socially_embarrassed",
    "over_shy_blushing_face",
    "awkward_sweat_smile",
    "embarrassed_cover_mouth",
    # Confident / cool
    "confident_smile",
    "dominant_gaze",
    "cold_cool_expression",
    "victorious_pride",
    "super_confident_smirk",
    "bossy_cool_face",
    "winning_smug_face",
    # Confused / thinking
    "slight_confusion",
    "frowning_thought",
    "not_understanding",
    "suspicious_look",
    "confused_tilted_face",
    "what_are_you_doing_face",
    "brain_loading_face",
    # Tired / speechless
    "tired_blank_eyes",
    "helpless_expression",
    "awkward_silence",
    "sleepy_yawn",
    "dead_inside_face",
    "exhausted_melting_face",
    "speechless_blank_stare",
    # Charming
    "charming_smile",
    "flirty_eyebrow_raise",
    "soft_lip_bite",
    "dreamy_gaze",
    "playful_seductive_smirk",
    "wink_flirty_face",
    "dramatic_lip_bite",
    # Affectionate / intimate
    "gentle_gaze",
    "fond_smile",
    "sweet_pouting_affection",
    "deep_affectionate_gaze",
    "heart_eyes_expression",
    "overly_sweet_affection",
    "clingy_cute_pout",
    # Arrogant / contemptuous
    "cold_contempt",
    "sarcastic_sneer",
    "dismissive_pout",
    "in_control_expression",
    "extreme_smug_face",
    "mocking_laugh_face",
    "looking_down_contempt",
    # Cute
    "soft_cute_smile",
    "cute_pout",
    "innocent_big_eyes",
    "expectant_sparkling_eyes",
    "super_cute_pouting_face",
    "sparkling_eyes_cute",
    "baby_like_innocent_face",
    # Painful / enduring
    "frowning_in_pain",
    "holding_back_tears",
    "crying_breakdown",
    "repressed_exhaustion",
    "dramatic_pain_face",
    "holding_back_scream",
    "overwhelmed_breakdown_face",
)
# The vendor may add values before this list learns them: anything shaped like its snake_case
# enum goes through and the vendor judges it (UNSUPPORTED_PARAMETER_VALUES if it disagrees).
EXPRESSION_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,63}")
