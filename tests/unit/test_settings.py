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


def test_executor_backends_come_from_toml_tables_or_json_variables(tmp_path):
    config = tmp_path / "airad.toml"
    config.write_text(
        '[container]\nurl = "unix:///run/podman.sock"\nslots = 3\n'
        '[[ssh_hosts]]\naddress = "gpu1"\ngpus = ["0", "1"]\nkey_file = "/keys/id"\n'
        '[slurm]\nroot = "/shared/airad"\npartition = "gpu"\n'
    )
    settings = load_settings(config, env={"HOME": "/h"})
    assert settings.container.url == "unix:///run/podman.sock" and settings.container.slots == 3
    assert settings.ssh_hosts[0].address == "gpu1" and settings.ssh_hosts[0].gpus == ("0", "1")
    assert settings.ssh_hosts[0].known_hosts is None and not settings.ssh_hosts[0].insecure_no_host_check
    assert settings.slurm.root == "/shared/airad" and settings.slurm.login is None
    from_env = load_settings(env={"HOME": "/h", "AIRAD_CONTAINER": '{"url": "tcp://docker:2375"}'})
    assert from_env.container.url == "tcp://docker:2375" and from_env.container.image == "airad-runtime:latest"


def test_bad_backend_settings_name_the_problem(tmp_path):
    with pytest.raises(SettingsError, match="AIRAD_SSH_HOSTS must be JSON"):
        load_settings(env={"HOME": "/h", "AIRAD_SSH_HOSTS": "gpu1,gpu2"})
    with pytest.raises(SettingsError, match="address"):
        load_settings(env={"HOME": "/h", "AIRAD_SSH_HOSTS": '[{"port": 22}]'})
