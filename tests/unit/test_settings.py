import pytest

from airad.daemon.settings import SettingsError, load_settings


def test_defaults_file_env_and_overrides_in_that_order(tmp_path):
    config = tmp_path / "airad.toml"
    config.write_text('local_slots = 4\nlease_ttl_s = 10\nstate_dir = "/from/file"\n')
    env = {"AIRAD_LOCAL_SLOTS": "6", "HOME": "/home/u"}
    settings = load_settings(config, env=env)
    assert settings.local_slots == 6 and settings.lease_ttl_s == 10 and settings.state_dir == "/from/file"
    assert load_settings(config, env=env, state_dir="/cli").state_dir == "/cli"
    assert load_settings(env={"HOME": "/home/u"}).state_dir == "/home/u/.local/state/airad"


def test_bad_values_name_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="local_slots"):
        load_settings(env={"AIRAD_LOCAL_SLOTS": "zero", "HOME": "/h"})
    with pytest.raises(SettingsError, match="lease_ttl_s"):
        load_settings(env={"AIRAD_LEASE_TTL_S": "0.1", "HOME": "/h"})
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(tmp_path / "missing.toml", env={"HOME": "/h"})
