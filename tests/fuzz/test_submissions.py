"""Every operation's parameters through the one validator (editor.submissions.validate), with
any value a form or a script can send in each field: the answer is a validated submission whose
values are in range and can be stored, or SubmissionInvalid with the errors by field; never any
other exception."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from django import forms
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import User
from editor import operations, submissions
from editor.models import BIDI_CONTROLS, Vendor, VendorKey
from editor.operations import Operation, Param
from editor.submissions import Photo, SubmissionInvalid
from tests.factories import make_key
from tests.fuzz.strategies import NUMBERISH, isolated, json_leaf, json_value, text
from tests.images import make_image

pytestmark = pytest.mark.django_db

FUZZ = settings.get_profile("fuzz")
PHOTO = make_image((200, 150))
# What a file part can hold: a good photo most of the time, else bytes no photo is made of.
photo_bytes = st.one_of(
    st.just(PHOTO),
    st.just(PHOTO[: len(PHOTO) // 2]),
    st.binary(max_size=64),
    st.just(make_image((200, 150), "PNG")),
)


def field_value(param: Param) -> st.SearchStrategy[Any]:
    """A value for one field: its own choices, numbers written any way, any text, any JSON at
    all, or a list (a palette may come as one: of strings, one hopes)."""
    own = [st.sampled_from([value for value, _label in param.choices])] if param.choices else []
    return st.one_of(*own, NUMBERISH, text, json_value, st.lists(json_leaf, max_size=3))


def field_values(operation: Operation) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the operation's fields (each with a value for its kind) and some it does not
    declare."""
    declared = st.fixed_dictionaries(
        {}, optional={param.name: field_value(param) for param in operation.params}
    )
    undeclared = st.dictionaries(text, json_value, max_size=2)
    return st.tuples(declared, undeclared).map(lambda pair: pair[1] | pair[0])


@st.composite
def submission(draw: st.DrawFn, operation: Operation) -> dict[str, Any]:
    values = draw(field_values(operation))
    providers = [provider.name for provider in operation.providers]
    roles = [spec.role for spec in operation.files]
    photos = draw(
        st.dictionaries(
            st.sampled_from(roles),
            st.lists(photo_bytes.map(lambda data: Photo(data, "p.jpg")), min_size=0, max_size=2),
        )
    )
    return {
        "provider": draw(st.none() | st.sampled_from(providers) | text),
        "values": values,
        "photos": photos,
        "key": draw(st.none() | st.just("own") | st.uuids().map(str) | json_value),
    }


@pytest.fixture
def keys(alice: User) -> dict[str, VendorKey]:
    """A key for every vendor, so that a valid submission gets all the way through."""
    return {vendor: make_key(alice, vendor) for vendor in Vendor.values}


def assert_storable(operation: Operation, params: dict[str, Any]) -> None:
    """Validated values are in their declared types and ranges, and JSON can store them."""
    json.dumps(params, allow_nan=False)
    declared = {param.name: param for param in operation.params}
    for name, value in params.items():
        param = declared[name]
        if param.kind in ("int", "float"):
            assert isinstance(value, int | float)
            assert math.isfinite(value)
            assert param.minimum is None or value >= param.minimum
            assert param.maximum is None or value <= param.maximum
        elif param.kind == "choice":
            assert value in {choice for choice, _label in param.choices}
        elif param.kind == "colors":
            assert all(len(color) == 6 and color.isalnum() for color in value)
            assert 1 <= len(value) <= param.max_items
        else:
            assert isinstance(value, str)
            assert not set(value) & {chr(point) for point in BIDI_CONTROLS}


@pytest.mark.parametrize("operation", operations.OPERATIONS, ids=lambda o: o.slug)
def test_the_validator_accepts_or_names_the_field(
    operation: Operation, alice: User, keys: dict[str, VendorKey]
) -> None:
    @FUZZ
    @given(sent=submission(operation))
    def check(sent: dict[str, Any]) -> None:
        key = keys[Vendor.AILABTOOLS].pk if sent["key"] == "own" else sent["key"]
        with isolated():
            try:
                valid = submissions.validate(
                    operation,
                    alice,
                    provider=sent["provider"],
                    values=sent["values"],
                    photos=sent["photos"],
                    key=key,
                )
            except SubmissionInvalid as refused:
                problem = refused
            else:
                assert_storable(operation, valid.params)
                return
        # Refused: with the errors by field, or a reason for the whole submission.
        assert problem.errors or problem.code != "invalid"
        assert all(isinstance(m, str) for ms in problem.errors.values() for m in ms)

    check()


@pytest.mark.parametrize("operation", operations.OPERATIONS, ids=lambda o: o.slug)
def test_stored_preset_parameters_are_checked_or_refused(operation: Operation) -> None:
    """A preset's parameters as an admin types them (any JSON): checked values or a
    ValidationError, never a TypeError from a value of the wrong shape."""
    providers = ["", *(provider.name for provider in operation.providers)]

    @FUZZ
    @given(
        provider=st.sampled_from(providers),
        params=json_value | field_values(operation),
    )
    def check(provider: str, params: Any) -> None:
        try:
            values = submissions.check_preset_params(operation, provider, params)
        except forms.ValidationError:
            return
        json.dumps(values, allow_nan=False)

    check()
