"""The staff console's session cookie: sealed, timed, and refused in words when it is not ours."""

from __future__ import annotations

import time

import pytest

from costsvc.api.pages.session import Session, SessionCodec, SessionRefused, csrf_matches
from costsvc.phi import PhiVault, generate_key
from costsvc.settings import Settings


def codec(**settings) -> SessionCodec:
    made = SessionCodec.from_settings(Settings(**settings), PhiVault.from_config(generate_key()))
    assert made is not None
    return made


def test_a_sealed_session_opens_again_and_hides_the_key():
    c = codec()
    sealed = c.seal(c.new("csk_secret-key"))
    assert "csk_secret-key" not in sealed and "secret" not in sealed
    assert c.open(sealed).key == "csk_secret-key"


def test_expired_forged_foreign_and_future_cookies_are_refused_by_reason():
    c = codec(session_ttl=60)
    now = time.time()
    sealed = c.seal(c.new("csk_x"), now=now)
    assert c.open(sealed, now=now + 59).key == "csk_x"
    with pytest.raises(SessionRefused) as refused:
        c.open(sealed, now=now + 61)
    assert refused.value.reason == "expired"
    for value in (sealed[:-6] + "AAAAAA", "garbage", "", "é", codec().seal(c.new("csk_x"))):
        with pytest.raises(SessionRefused) as refused:
            c.open(value, now=now)
        assert refused.value.reason == "invalid", value
    with pytest.raises(SessionRefused) as refused:
        c.open(c.seal(c.new(), now=now + 3600), now=now)
    assert refused.value.reason == "invalid"


def test_the_key_comes_from_the_setting_or_the_phi_key():
    vault = PhiVault.from_config(generate_key())
    derived = SessionCodec.from_settings(Settings(), vault)
    assert derived is not None and derived.open(derived.seal(derived.new())).key is None
    again = SessionCodec.from_settings(Settings(), vault)  # another worker process: the same key
    assert again is not None and again.open(derived.seal(derived.new("csk_y"))).key == "csk_y"
    own = SessionCodec.from_settings(Settings(session_key=generate_key()), vault)
    with pytest.raises(SessionRefused):
        own.open(derived.seal(derived.new()))  # type: ignore[union-attr]
    assert SessionCodec.from_settings(Settings(), None) is None
    with pytest.raises(ValueError, match="COSTSVC_SESSION_KEY is not a Fernet key"):
        SessionCodec.from_settings(Settings(session_key="short"), vault)


def test_csrf_tokens_must_match_exactly():
    session = Session(csrf="abc")
    assert csrf_matches(session, "abc")
    for wrong in (None, "", "abd", "abc ", 3, ["abc"], "ünïcode"):
        assert not csrf_matches(session, wrong), wrong
