"""Settings: the environment mapped declaratively into one typed object."""

from pathlib import Path

import msgspec
import pytest

from costsvc.settings import Settings, env_name, from_environ

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_field_is_read_from_its_variable():
    defaults = Settings()
    for field in Settings.__struct_fields__:
        default = getattr(defaults, field)
        if field == "log_format":
            raw, expected = "text", "text"
        elif isinstance(default, bool) or field == "seed_demo":
            raw, expected = "true", True
        elif isinstance(default, int):
            raw, expected = "7", 7
        elif isinstance(default, float):
            raw, expected = "2.5", 2.5
        else:
            raw, expected = "value-of-" + field, "value-of-" + field
        if field == "log_level":
            expected = raw.upper()
        assert getattr(from_environ({env_name(field): raw}), field) == expected, field


def test_unset_and_empty_variables_keep_the_defaults():
    assert from_environ({}) == Settings()
    assert from_environ({"COSTSVC_PORT": "  ", "DATABASE_URL": ""}) == Settings()


def test_a_bad_value_names_its_variable():
    with pytest.raises(ValueError, match="COSTSVC_POOL_MAX"):
        from_environ({"COSTSVC_POOL_MAX": "many"})


def test_every_variable_is_in_the_readme_table():
    readme = README.read_text()
    missing = [env_name(f) for f in Settings.__struct_fields__ if f"`{env_name(f)}`" not in readme]
    assert missing == []


def test_settings_are_plain_data():
    assert msgspec.json.decode(msgspec.json.encode(Settings()), type=Settings) == Settings()


def test_log_format_is_json_or_text():
    assert Settings().log_format == "json"
    with pytest.raises(ValueError, match="COSTSVC_LOG_FORMAT"):
        from_environ({"COSTSVC_LOG_FORMAT": "xml"})
