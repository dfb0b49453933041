"""Certificate expiry tracking and the published public-key pins."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloudexpress.certificates import certificates_expiring

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _certificate(path: Path, days_left: int) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"in-{days_left}-days.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=60))
        .not_valid_after(NOW + timedelta(days=days_left))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key


def _openssl_pin(certificate: Path) -> str:
    """The pin computed by OpenSSL, independently of the module."""
    public = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-pubkey", "-noout"],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=public,
        check=True,
        capture_output=True,
    ).stdout
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"], input=der, check=True, capture_output=True
    ).stdout
    return base64.b64encode(digest).decode()


def test_a_certificate_inside_30_days_is_reported_and_one_outside_is_not(
    tmp_path: Path, settings
) -> None:
    _certificate(tmp_path / "soon.crt", 29)
    _certificate(tmp_path / "later.crt", 31)
    settings.TLS_CERTIFICATES = [str(tmp_path / "soon.crt"), str(tmp_path / "later.crt")]

    expiring = certificates_expiring(days=30, now=NOW)

    assert [c.path for c in expiring] == [str(tmp_path / "soon.crt")]
    assert expiring[0].subject == "CN=in-29-days.test"
    assert expiring[0].not_after == NOW + timedelta(days=29)
    # Both are well inside a 60-day window.
    assert len(certificates_expiring(days=60, now=NOW)) == 2


def test_an_unreadable_certificate_is_reported_as_failing(tmp_path: Path, settings) -> None:
    (tmp_path / "broken.crt").write_text("not a certificate")
    settings.TLS_CERTIFICATES = [str(tmp_path / "broken.crt"), str(tmp_path / "missing.crt")]

    expiring = certificates_expiring(days=30, now=NOW)

    assert [(c.path.rsplit("/", 1)[1], c.error) for c in expiring] == [
        ("broken.crt", "ValueError"),
        ("missing.crt", "FileNotFoundError"),
    ]


@pytest.mark.django_db
def test_pins_of_the_current_and_backup_keys_are_published(
    tmp_path: Path, settings, client
) -> None:
    _certificate(tmp_path / "current.crt", 90)
    backup = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "backup.pub").write_bytes(
        backup.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    settings.TLS_CERTIFICATES = [str(tmp_path / "current.crt")]
    settings.TLS_BACKUP_PUBLIC_KEYS = [str(tmp_path / "backup.pub")]
    backup_pin = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(tmp_path / "backup.pub"), "-outform", "der"],
        check=True,
        capture_output=True,
    ).stdout

    response = client.get("/.well-known/cloudexpress-pins.json")

    assert response.status_code == 200
    body = response.json()
    assert body["current"] == [_openssl_pin(tmp_path / "current.crt")]
    assert body["backup"] == [
        base64.b64encode(
            subprocess.run(
                ["openssl", "dgst", "-sha256", "-binary"],
                input=backup_pin,
                check=True,
                capture_output=True,
            ).stdout
        ).decode()
    ]
    assert body["current"] != body["backup"]
