"""docs/openapi.yaml against the real daemon: every documented operation is
called, every answer's status must be documented for it, and every JSON
answer must match the documented schema (validated with Debian's
python3-jsonschema, the OpenAPI 3.0 `nullable` turned into JSON Schema)."""
import hashlib
import ssl
import urllib.parse
from pathlib import Path

import pytest

from daemon import Certmond, multipart

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip(
    "jsonschema", reason="apt-get install python3-jsonschema")

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def resolve(spec, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def to_jsonschema(spec, s):
    """OpenAPI 3.0 schema -> JSON Schema (refs inlined, nullable)."""
    s = resolve(spec, s)
    if isinstance(s, list):
        return [to_jsonschema(spec, x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k in ("example", "nullable", "description", "format"):
            continue
        if k == "properties":
            out[k] = {n: to_jsonschema(spec, p) for n, p in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = to_jsonschema(spec, v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_jsonschema(spec, x) for x in v]
        else:
            out[k] = v
    if s.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def find_operation(spec, method, url):
    path = urllib.parse.urlsplit(url).path
    segs = path.strip("/").split("/")
    for template, item in spec["paths"].items():
        tsegs = template.strip("/").split("/")
        if len(tsegs) != len(segs):
            continue
        if all(t == s or (t.startswith("{") and t.endswith("}"))
               for t, s in zip(tsegs, segs)):
            op = item.get(method.lower())
            if op is not None:
                return template, op
    return None, None


class Checker:
    def __init__(self, spec, daemon):
        self.spec = spec
        self.d = daemon
        self.seen = set()

    def __call__(self, method, url, status=None, **kw):
        r = self.d.request(method, url, **kw)
        template, op = find_operation(self.spec, method, url)
        assert op is not None, f"{method} {url} is not documented"
        self.seen.add((method.lower(), template))
        if status is not None:
            assert r.status == status, r
        responses = op["responses"]
        assert str(r.status) in responses, (
            f"{method} {url} answered {r.status}, documented: "
            f"{sorted(responses)}")
        resp = resolve(self.spec, responses[str(r.status)])
        content = resp.get("content", {})
        ctype = r.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            assert "application/json" in content, (method, url, r.status)
            schema = to_jsonschema(self.spec,
                                   content["application/json"]["schema"])
            try:
                jsonschema.validate(r.json, schema)
            except jsonschema.ValidationError as e:
                raise AssertionError(
                    f"{method} {url} -> {r.status}: {e.message} at "
                    f"{list(e.absolute_path)}\n{r.body[:2000]!r}") from None
        else:
            assert any(ctype.startswith(c.split(";")[0]) for c in content), (
                method, url, ctype)
        return r


def test_every_operation_answers_as_documented(tmp_path, spec, pki):
    leaf = pki.leaf("openapi.example", days=20, name="openapi-leaf")
    other = pki.leaf("openapi-old.example", days=20, name="openapi-old",
                     faketime="-1d")
    newer = pki.leaf("openapi-old.example", days=20, name="openapi-new")
    fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(
        leaf.read_text())).hexdigest()
    with Certmond(tmp_path) as d:
        call = Checker(spec, d)
        pemtype = "application/x-pem-file"
        call("GET", "/healthz", 200, auth=False)
        call("GET", "/metrics", 200, auth=False)

        call("GET", "/api/v1/certs", 200)
        call("GET", "/api/v1/certs?state=bogus", 400)
        call("GET", "/api/v1/certs", 401, auth=False)
        call("POST", "/api/v1/certs?unit=CallManager", 201,
             body=leaf.read_bytes(), content_type=pemtype)
        call("POST", "/api/v1/certs?unit=CallManager", 201,
             body=newer.read_bytes(), content_type=pemtype)
        call("POST", "/api/v1/certs?unit=CallManager", 409,
             body=other.read_bytes(), content_type=pemtype)
        call("POST", "/api/v1/certs?unit=NoSuchUnit", 404,
             body=leaf.read_bytes(), content_type=pemtype)
        call("POST", "/api/v1/certs?unit=CallManager", 400, body=b"junk",
             content_type=pemtype)
        call("POST", "/api/v1/certs?unit=CallManager", 413,
             body=b"x" * (3 * 1024 * 1024), content_type=pemtype)
        ctype, body = multipart({"unit": "ipsec"},
                                {"file": ("l.pem", leaf.read_bytes())})
        call("POST", "/api/v1/certs", 201, body=body, content_type=ctype)
        call("GET", "/api/v1/certs?history=1&limit=5&search=openapi", 200)
        call("GET", f"/api/v1/certs/{fp[:16]}?unit=ipsec", 200)
        call("GET", f"/api/v1/certs/{fp[:16]}", 409)
        call("GET", "/api/v1/certs/" + "0" * 64, 404)
        call("DELETE", f"/api/v1/certs/{fp[:16]}?unit=ipsec", 200)
        call("DELETE", f"/api/v1/certs/{fp[:16]}?unit=ipsec", 404)

        call("GET", "/api/v1/units", 200)
        call("POST", "/api/v1/units", 201, body={"name": "web"})
        call("POST", "/api/v1/units", 409, body={"name": "web"})
        call("POST", "/api/v1/units", 400, body={"name": "bad name"})
        call("DELETE", "/api/v1/units/web", 200)
        call("DELETE", "/api/v1/units/web", 404)
        call("DELETE", "/api/v1/units/CallManager", 409)

        call("GET", "/api/v1/settings/monitor", 200)
        call("PUT", "/api/v1/settings/monitor", 200, body={"start_days": 40})
        call("PUT", "/api/v1/settings/monitor", 400, body={"start_days": 0})
        call("GET", "/api/v1/settings/smtp", 200)
        call("PUT", "/api/v1/settings/smtp", 200, body={
            "host": "mail.example.com", "port": 587, "tls": "starttls",
            "user": "u", "password": "p", "from": "certmon@example.com"})
        call("PUT", "/api/v1/settings/smtp", 400, body={"tls": "x"})
        call("GET", "/api/v1/settings/revocation", 200)
        call("PUT", "/api/v1/settings/revocation", 200, body={
            "ocsp": True, "uri_source": "configured",
            "uri": "http://127.0.0.1:9/ocsp", "every": "12h"})
        call("PUT", "/api/v1/settings/revocation", 400,
             body={"uri_source": "configured", "uri": "ftp://x/"})
        call("GET", "/api/v1/settings/enterprise", 200)
        call("PUT", "/api/v1/settings/enterprise", 200,
             body={"common_criteria": True, "validity_check_frequency": "6h"})
        call("PUT", "/api/v1/settings/enterprise", 400,
             body={"validity_check_frequency": "0h"})

        call("GET", "/api/v1/services", 200)
        call("GET", "/api/v1/services/expiry-monitor", 200)
        call("GET", "/api/v1/services/nope", 404)
        call("POST", "/api/v1/services/revocation-check/stop", 200)
        call("POST", "/api/v1/services/revocation-check/start", 200)
        call("POST", "/api/v1/services/revocation-check/restart", 200)
        call("POST", "/api/v1/services/expiry-monitor/run", 200)
        call("POST", "/api/v1/services/revocation-check/run", 200)

        call("GET", "/api/v1/events?limit=3", 200)
        call("GET", "/api/v1/events?kind=audit&limit=1000", 200)
        call("GET", "/api/v1/events?limit=0", 400)
        call("GET", "/api/v1/mail/queue", 200)
        call("GET", "/api/v1/mail/queue?all=1", 200)

        call("GET", "/api/v1/endpoints", 200)
        call("POST", "/api/v1/endpoints", 201, body={
            "name": "ldap1", "address": "127.0.0.1:9", "starttls": "ldap",
            "trust_unit": "tomcat-trust"})
        call("POST", "/api/v1/endpoints", 409, body={
            "name": "ldap1", "address": "127.0.0.1:9"})
        call("POST", "/api/v1/endpoints", 400, body={
            "name": "bad", "address": "no-port"})
        call("POST", "/api/v1/endpoints", 404, body={
            "name": "x", "address": "127.0.0.1:9", "trust_unit": "nosuch"})
        call("GET", "/api/v1/endpoints", 200)
        call("GET", "/api/v1/endpoints/ldap1", 200)
        call("GET", "/api/v1/endpoints/nosuch", 404)
        r = call("POST", "/api/v1/endpoints/ldap1/check", 200)
        assert r.json["endpoint"]["verdict"] == "fail", r
        call("POST", "/api/v1/endpoints/nosuch/check", 404)
        call("DELETE", "/api/v1/endpoints/ldap1", 200)
        call("DELETE", "/api/v1/endpoints/ldap1", 404)

        documented = {(m, p) for p, item in spec["paths"].items()
                      for m in item if m in ("get", "put", "post", "delete")}
        assert documented - call.seen == set()


def test_the_spec_names_every_route(spec):
    """The routes of daemon/api.c, http.c (kept by hand: a new route needs
    a line here and in docs/openapi.yaml)."""
    routes = {
        ("get", "/healthz"), ("get", "/metrics"),
        ("get", "/api/v1/certs"), ("post", "/api/v1/certs"),
        ("get", "/api/v1/certs/{fingerprint}"),
        ("delete", "/api/v1/certs/{fingerprint}"),
        ("get", "/api/v1/units"), ("post", "/api/v1/units"),
        ("delete", "/api/v1/units/{name}"),
        ("get", "/api/v1/settings/monitor"), ("put", "/api/v1/settings/monitor"),
        ("get", "/api/v1/settings/smtp"), ("put", "/api/v1/settings/smtp"),
        ("get", "/api/v1/settings/revocation"),
        ("put", "/api/v1/settings/revocation"),
        ("get", "/api/v1/settings/enterprise"),
        ("put", "/api/v1/settings/enterprise"),
        ("get", "/api/v1/services"), ("get", "/api/v1/services/{id}"),
        ("post", "/api/v1/services/{id}/start"),
        ("post", "/api/v1/services/{id}/stop"),
        ("post", "/api/v1/services/{id}/restart"),
        ("post", "/api/v1/services/{id}/run"),
        ("get", "/api/v1/events"), ("get", "/api/v1/mail/queue"),
        ("get", "/api/v1/endpoints"), ("post", "/api/v1/endpoints"),
        ("get", "/api/v1/endpoints/{name}"),
        ("delete", "/api/v1/endpoints/{name}"),
        ("post", "/api/v1/endpoints/{name}/check"),
    }
    documented = {(m, p) for p, item in spec["paths"].items()
                  for m in item if m in ("get", "put", "post", "delete")}
    assert documented == routes
