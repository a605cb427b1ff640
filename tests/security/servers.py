"""A real nats-server started with an authentication (and optionally TLS) config file, for security tests.

`AuthNats.start(tmp, kind)` writes a config for `kind` (`password`, `token`, `nkey`, `tls`), with
credentials generated for the test: a random password or token, an nkey user made with the `nkeys`
package, a CA and a server certificate for 127.0.0.1 made with `cryptography`. `auth` is the
`NatsAuth` a daemon needs, `env` the variables it names, `client_kwargs` the `airad.Client` ones.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from airad.daemon.nats_server import nats_server_binary
from airad.daemon.settings import NatsAuth


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 / localhost it signed: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airad test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def make_nkey_user(directory: Path) -> tuple[str, Path]:
    """A new nkey user: (its public key, the file holding its seed)."""
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    path = directory / "user.nk"
    path.write_bytes(seed)
    path.chmod(0o600)
    return public, path


@dataclass
class AuthNats:
    """A nats-server with JetStream and one kind of authentication; `stop()` it after the test."""

    kind: str
    url: str
    auth: NatsAuth
    env: dict[str, str]
    client_kwargs: dict
    secrets: list[str]
    process: subprocess.Popen
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def start(cls, directory: Path, kind: str) -> "AuthNats":
        directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        lines = [f"listen: 127.0.0.1:{port}", f'jetstream {{ store_dir: "{directory / "js"}" }}']
        scheme, env, files = "nats", {}, {}
        if kind == "password":
            password = secrets.token_urlsafe(16)
            lines.append(f'authorization {{ user: airad, password: "{password}" }}')
            auth, env, kwargs, hidden = NatsAuth(user="airad", password_env="AIRAD_TEST_NATS_PASSWORD"), {"AIRAD_TEST_NATS_PASSWORD": password}, {"user": "airad", "password": password}, [password]
        elif kind == "token":
            token = secrets.token_urlsafe(24)
            lines.append(f'authorization {{ token: "{token}" }}')
            auth, env, kwargs, hidden = NatsAuth(token_env="AIRAD_TEST_NATS_TOKEN"), {"AIRAD_TEST_NATS_TOKEN": token}, {"token": token}, [token]
        elif kind == "nkey":
            public, seed_file = make_nkey_user(directory)
            lines.append(f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}')
            auth, kwargs, hidden = NatsAuth(nkey_seed_file=str(seed_file)), {"nkey_seed_file": str(seed_file)}, [seed_file.read_text()]
            files["seed"] = seed_file
        elif kind == "tls":
            ca, cert, key = make_ca_and_server_cert(directory)
            password = secrets.token_urlsafe(16)
            lines.append(f'tls {{ cert_file: "{cert}", key_file: "{key}", ca_file: "{ca}" }}')
            lines.append(f'authorization {{ user: airad, password: "{password}" }}')
            scheme = "tls"
            auth = NatsAuth(user="airad", password_file=str(directory / "nats-password"), tls_ca_file=str(ca))
            (directory / "nats-password").write_text(password + "\n")
            kwargs, hidden = {"user": "airad", "password": password, "tls_ca_file": str(ca)}, [password]
            files.update(ca=ca, cert=cert, key=key)
        else:
            raise ValueError(kind)
        config = directory / "nats.conf"
        config.write_text("\n".join(lines) + "\n")
        log = open(directory / "nats-server.log", "wb")
        process = subprocess.Popen([nats_server_binary(), "-c", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {(directory / 'nats-server.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    process.kill()
                    raise
                time.sleep(0.05)
        return cls(kind, f"{scheme}://127.0.0.1:{port}", auth, env, kwargs, hidden, process, files)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
