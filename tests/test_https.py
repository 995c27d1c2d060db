"""HTTPS (docs/deployment.md "Deploying on a ward network"): the private CA and server certificate (deploy/certificates.py),
a real server speaking TLS itself with PAINSCOPE_TLS_CERT / _KEY (health, HSTS, Secure login cookie, the /live
Socket.IO namespace over wss with acks, the plain-HTTP port's 308), the app's cookie and HSTS rules, and the
nginx configuration `make cluster` writes for TLS (checked by ``nginx -t``)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import requests
import socketio
from cryptography import x509
from werkzeug.test import Client

from deploy.certificates import ensure_certificates, spki_sha256
from deploy.cluster import nginx_config
from server.config import Settings
from server.web.security.https import redirect_to_https
from tests import synthetic
from tests.conftest import create_test_app
from tests.server_process import ServerProcess, free_port

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return ensure_certificates(tmp_path_factory.mktemp("tls"), ["painscope.ward.test"])


def test_the_ca_signs_a_server_certificate_for_the_names_and_loopback(certificates):
    ca = x509.load_pem_x509_certificate(certificates.ca.read_bytes())
    leaf, chained_ca = x509.load_pem_x509_certificates(certificates.server_chain.read_bytes())
    assert chained_ca == ca  # the chain a browser is sent ends with the CA
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["painscope.ward.test", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=398)  # browsers' cap
    for key in (certificates.server_key, certificates.ca.with_name("ca-key.pem")):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", spki_sha256(certificates.ca))


def test_existing_certificates_are_kept_and_a_new_server_certificate_keeps_the_ca(tmp_path):
    first = ensure_certificates(tmp_path, ["a.ward.test"])
    ca, chain = first.ca.read_bytes(), first.server_chain.read_bytes()
    assert ensure_certificates(tmp_path, ["a.ward.test"]).server_chain.read_bytes() == chain
    first.server_chain.unlink()
    again = ensure_certificates(tmp_path, ["b.ward.test"])
    assert again.ca.read_bytes() == ca and again.server_chain.read_bytes() != chain


def test_plain_http_is_redirected_to_the_same_url_over_https():
    client = Client(redirect_to_https(5443))
    response = client.post("/api/v1/patients?q=a%20b", headers={"Host": "ward.test:5080"})
    assert response.status_code == 308  # the method and body are kept
    assert response.headers["Location"] == "https://ward.test:5443/api/v1/patients?q=a%20b"
    assert Client(redirect_to_https(443)).get("/", headers={"Host": "[::1]:80"}).headers["Location"] == "https://[::1]/"


def test_under_tls_cookies_are_secure_and_https_answers_carry_hsts(certificates):
    plain = create_test_app()
    assert not plain.config["SESSION_COOKIE_SECURE"]
    assert "Strict-Transport-Security" not in plain.test_client().get("/health").headers
    assert plain.test_client().get("/health", base_url="https://localhost").headers[
        "Strict-Transport-Security"] == "max-age=31536000"
    tls = create_test_app(Settings(tls_cert=str(certificates.server_chain), tls_key=str(certificates.server_key)))
    assert tls.config["SESSION_COOKIE_SECURE"] and tls.config["REMEMBER_COOKIE_SECURE"]


@pytest.fixture(scope="module")
def tls_server(certificates):
    redirect_port = free_port()
    env = {"PAINSCOPE_TLS_CERT": str(certificates.server_chain), "PAINSCOPE_TLS_KEY": str(certificates.server_key),
           "PAINSCOPE_HTTP_REDIRECT_PORT": str(redirect_port)}
    with ServerProcess(env=env, ca_file=str(certificates.ca)) as server:
        server.redirect_port = redirect_port
        yield server


def test_a_server_with_a_certificate_speaks_https_with_hsts_and_a_secure_login_cookie(tls_server, certificates):
    assert tls_server.base_url.startswith("https://")
    health = requests.get(f"{tls_server.base_url}/health", verify=str(certificates.ca), timeout=TIMEOUT_S)
    assert health.ok and health.headers["Strict-Transport-Security"] == "max-age=31536000"
    with pytest.raises(requests.exceptions.SSLError):  # the private CA is not one the system trusts
        requests.get(f"{tls_server.base_url}/health", timeout=TIMEOUT_S)
    session = requests.Session()  # verify per call: a REQUESTS_CA_BUNDLE in the environment beats session.verify
    page = session.get(f"{tls_server.base_url}/login", verify=str(certificates.ca), timeout=TIMEOUT_S).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    login = session.post(f"{tls_server.base_url}/login", allow_redirects=False, timeout=TIMEOUT_S,
                         verify=str(certificates.ca),
                         data={"name": tls_server.user, "password": tls_server.password, "csrf_token": token})
    assert login.status_code == 302
    assert all("; Secure" in cookie for cookie in login.raw.headers.getlist("Set-Cookie"))


def test_the_plain_http_port_redirects_to_https(tls_server):
    response = requests.get(f"http://127.0.0.1:{tls_server.redirect_port}/patients?q=7", allow_redirects=False,
                            timeout=TIMEOUT_S)
    assert response.status_code == 308
    assert response.headers["Location"] == f"https://127.0.0.1:{tls_server.port}/patients?q=7"


def test_live_frames_are_acknowledged_over_wss(tls_server, certificates):
    http = requests.Session()
    http.verify = str(certificates.ca)  # python-engineio hands it to the websocket as its CA file
    client = socketio.Client(reconnection=False, http_session=http)
    client.connect(tls_server.base_url, namespaces=["/live"], transports=["websocket"],
                   auth={"token": tls_server.token}, wait_timeout=TIMEOUT_S)
    try:
        assert client.transport() == "websocket"
        assert client.eio.base_url.startswith("wss://")
        assert client.call("start", {}, namespace="/live", timeout=TIMEOUT_S).get("ok")
        jpeg = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()), quality=85)
        ack = client.call("frame", {"seq": 1, "t_ms": 0, "jpeg": jpeg}, namespace="/live", timeout=TIMEOUT_S)
        assert ack["seq"] == 1 and ack["face"] is not None
    finally:
        client.disconnect()


def test_the_cluster_nginx_config_serves_tls_and_redirects_plain_http(certificates, tmp_path):
    text = nginx_config("0.0.0.0:443", ["127.0.0.1:5010"], str(tmp_path),
                        (str(certificates.server_chain), str(certificates.server_key)), "0.0.0.0:80")
    assert "listen 0.0.0.0:443 ssl;" in text
    assert f"ssl_certificate {certificates.server_chain};" in text
    assert "return 308 https://$host:443$request_uri;" in text
    assert not re.search(r"@[A-Z_]+@", text)  # every field filled
    plain = nginx_config("127.0.0.1:5000", ["127.0.0.1:5010"], str(tmp_path))
    assert " ssl;" not in plain and "ssl_certificate" not in plain and "return 308" not in plain
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text.replace("0.0.0.0:443", f"127.0.0.1:{free_port()}").replace("0.0.0.0:80",
                                                                                    f"127.0.0.1:{free_port()}"))
    checked = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
