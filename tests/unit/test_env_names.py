"""The CLI's help names each setting's variable by its own copy of the settings' rule (it
cannot import switchyard.core.settings: pydantic): the two agree on every setting."""

from __future__ import annotations

from pydantic import BaseModel

from switchyard.cli.base import env_name as help_name
from switchyard.core.settings import env_name
from switchyard.settings import Settings


def test_the_help_and_the_settings_name_every_variable_alike() -> None:
    checked = 0
    for section, field in Settings.model_fields.items():
        model = field.annotation
        keys = model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        for key in keys:
            assert help_name(f"{section}.{key}") == env_name((section, key))
            checked += 1
    assert checked > 20
