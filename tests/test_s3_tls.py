"""s3:// over TLS with a private CA: moto serving HTTPS with a certificate
from a CA made here. The CA is trusted only when given (AWS_CA_BUNDLE or
S3Options(ca_file=...)); otherwise the connection is refused with an error
that says what to set.

Each configuration runs in a fresh interpreter: the environment is read when
the op is built, and one S3 client per configuration lives as long as the
process.
"""
import datetime
import ipaddress
import os

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
from s3_server import (isolated_aws_env, running_moto,  # noqa: E402
                       run_snippets)

pytest_plugins = ["s3_server"]

BUCKET = "ffm-tls"
RECORDS = [b"tls-record-%d" % i for i in range(37)]


def _write_ca_and_server_cert(directory, name):
    """A self-signed CA and a certificate it signed for 127.0.0.1/localhost.
    Returns (ca.pem, server-cert.pem, server-key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tf-ffm test CA {name}")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False,
              key_encipherment=False, data_encipherment=False,
              key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(
              ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, f"{name}-{p}.pem")
             for p in ("ca", "server-cert", "server-key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, s3_log_dir):
    directory = str(tmp_path_factory.mktemp("s3-tls"))
    ca, cert, key = _write_ca_and_server_cert(directory, "good")
    other_ca, _, _ = _write_ca_and_server_cert(directory, "other")
    path = os.path.join(directory, "data.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for r in RECORDS:
            w.write(r)
    with open(path, "rb") as f:
        body = f.read()
    with running_moto(s3_log_dir, name="moto-tls", cert=cert, key=key,
                      ca_file=ca) as server:
        s3 = server.client()  # verifies the server with `ca`
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/a.tfrecord", Body=body)
        yield {"server": server, "ca": ca, "other_ca": other_ca,
               "log_dir": s3_log_dir}


READ = f"""
emit({{"read": attempt(lambda: records("s3://{BUCKET}/data/a.tfrecord", **KW)),
      "glob": attempt(lambda: tf_ffm.glob("s3://{BUCKET}/data/*.tfrecord", **KW))}})
"""


def _job(tls, s3_options="", **env):
    code = f"KW = dict(s3=tf_ffm.S3Options({s3_options}))\n" + READ
    return code, isolated_aws_env(
        tls["log_dir"], AWS_ENDPOINT_URL=tls["server"].endpoint_url,
        AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
        AWS_REGION="us-east-1", **env)


@pytest.fixture(scope="module")
def results(tls_server):
    tls = tls_server
    names = ["env_ca", "no_ca", "wrong_ca", "options_ca", "no_verify"]
    outcomes = run_snippets([
        _job(tls, AWS_CA_BUNDLE=tls["ca"]),
        _job(tls),
        _job(tls, AWS_CA_BUNDLE=tls["other_ca"]),
        _job(tls, f"ca_file={tls['ca']!r}"),
        _job(tls, "verify_tls=False"),
    ])
    return dict(zip(names, outcomes))


EXPECTED = [r.hex() for r in RECORDS]
URI = f"s3://{BUCKET}/data/a.tfrecord"


def test_https_endpoint_with_ca_bundle_from_environment(results):
    assert results["env_ca"]["read"] == {"ok": True, "value": EXPECTED}
    assert results["env_ca"]["glob"] == {"ok": True, "value": [URI]}


@pytest.mark.parametrize("case", ["no_ca", "wrong_ca"])
def test_untrusted_certificate_is_refused_with_a_hint(results, case):
    read = results[case]["read"]
    assert read["error"] == "FailedPreconditionError", read
    assert URI in read["message"]
    assert "TLS verification failed" in read["message"]
    assert "AWS_CA_BUNDLE" in read["message"]
    assert "ca_file" in read["message"]
    listing = results[case]["glob"]
    assert listing["error"] == "FailedPreconditionError", listing
    assert "AWS_CA_BUNDLE" in listing["message"]


def test_ca_file_in_s3_options(results):
    assert results["options_ca"]["read"] == {"ok": True, "value": EXPECTED}
    assert results["options_ca"]["glob"] == {"ok": True, "value": [URI]}


def test_verify_tls_off(results):
    assert results["no_verify"]["read"] == {"ok": True, "value": EXPECTED}
    assert results["no_verify"]["glob"] == {"ok": True, "value": [URI]}


def test_server_really_serves_tls_only(tls_server):
    """The control for the cases above: plain HTTP to that port fails."""
    import http.client
    import urllib.request
    url = tls_server["server"].endpoint_url.replace("https://", "http://")
    with pytest.raises((OSError, http.client.HTTPException)):
        urllib.request.urlopen(url + f"/{BUCKET}/data/a.tfrecord", timeout=5).read()
