"""PHI vault: encryption round trip, rotation, keyed lookup, masks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costsvc.phi import (
    PhiDecryptError,
    PhiKeyError,
    PhiVault,
    generate_key,
    mask_member_id,
    mask_name,
    parse_keys,
)


@given(st.text(max_size=60))
def test_round_trip(value):
    vault = PhiVault(parse_keys(generate_key()))
    token = vault.encrypt(value)
    if len(value) >= 8:
        assert value.encode() not in token
    assert vault.decrypt_text(token) == value


def test_rotation_moves_tokens_to_the_first_key():
    old, new = generate_key(), generate_key()
    token = PhiVault(parse_keys(old)).encrypt("ABC123456789")
    both = PhiVault(parse_keys(f"{new},{old}"))
    rotated = both.rotate(token)
    assert PhiVault(parse_keys(new)).decrypt_text(rotated) == "ABC123456789"
    with pytest.raises(PhiDecryptError):
        PhiVault(parse_keys(new)).decrypt(token)


def test_lookup_is_keyed_and_normalized():
    vault = PhiVault(parse_keys(generate_key()))
    assert vault.lookup_hash(" abc 123 ") == vault.lookup_hash("ABC123")
    assert vault.lookup_hash("ABC123") != vault.lookup_hash("ABC124")
    assert PhiVault(parse_keys(generate_key())).lookup_hash("ABC123") != vault.lookup_hash("ABC123")
    separate = PhiVault(parse_keys(generate_key()), b"a separate hmac key")
    again = PhiVault(parse_keys(generate_key()), b"a separate hmac key")
    assert separate.lookup_hash("ABC123") == again.lookup_hash("ABC123")


@pytest.mark.parametrize("text", ["short", "not base64 at all!!", "a,b"])
def test_bad_keys_are_refused_without_echoing_them(text):
    with pytest.raises(PhiKeyError) as caught:
        parse_keys(text)
    assert text not in str(caught.value)


def test_no_key_means_no_vault():
    assert PhiVault.from_config(None) is None
    assert PhiVault.from_config("  ") is None


def test_masks():
    assert mask_member_id("ABC123456789") == "********6789"
    assert mask_member_id("1234") == "***4"
    assert mask_name("Jordan Rivera") == "J***** R*****"
