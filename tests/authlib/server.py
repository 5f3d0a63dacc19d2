"""A standards-based OAuth 2.0 server for the tests (`sims::authlib_interop`): Authlib's
AuthorizationServer with the client-credentials grant, and a resource server that validates
its bearer tokens and requires the partner scopes, serving a tiny SIMS-shaped partner API.

Usage: python3 server.py PORT_FILE
It binds 127.0.0.1:0, writes the chosen port to PORT_FILE, and serves until killed (or
for at most ten minutes). Clients (ids and secrets are test values):
  full   / full-secret    every scope, secret in the form body (client_secret_post)
  narrow / narrow-secret  only `rapapi partner` (a request for more is granted less)
  basic  / basic-secret   every scope, HTTP Basic only (client_secret_basic)
"""

import json
import secrets
import sys
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, jsonify
from werkzeug.serving import make_server

APP_ID = "11111111-2222-3333-4444-555555555555"
SCOPES = "rapapi partner partner-read partner-write"
SITES = [
    {
        "Id": 0,
        "Name": f"Authlib School {i}",
        "OrganisationId": f"{i:08X}-AAAA-4BBB-8CCC-DDDDDDDDDDDD",
        "DfeCode": f"999{i:04d}",
        "DeniNumber": None,
        "Authorised": 1,
    }
    for i in range(1, 13)
]
CLIENTS = {
    s["OrganisationId"]: [
        {
            "ClientId": f"sas-authlib-{i}-{k}",
            "Secret": f"authlib-school-secret-{i}-{k}",
            "OCPAIMKey": None,
            "Description": "test",
        }
        for k in range(2)
    ]
    for i, s in enumerate(SITES, 1)
}


class Client(ClientMixin):
    def __init__(self, client_id, secret, scope, method):
        self.client_id = client_id
        self.secret = secret
        self.scope = scope
        self.method = method

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        if not scope:
            return self.scope
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.method

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


CLIENT_LIST = {
    c.client_id: c
    for c in [
        Client("full", "full-secret", SCOPES, "client_secret_post"),
        Client("narrow", "narrow-secret", "rapapi partner", "client_secret_post"),
        Client("basic", "basic-secret", SCOPES, "client_secret_basic"),
    ]
}


class Token:
    def __init__(self, data, client_id):
        self.data = data
        self.client_id = client_id
        self.issued_at = time.time()

    def get_scope(self):
        return self.data.get("scope", "")

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_expires_in(self):
        return self.data.get("expires_in", 3600)

    def is_expired(self):
        return time.time() > self.issued_at + self.get_expires_in()

    def is_revoked(self):
        return False


TOKENS = {}
LOCK = threading.Lock()


def save_token(token, request):
    with LOCK:
        TOKENS[token["access_token"]] = Token(dict(token), request.client.get_client_id())


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        with LOCK:
            return TOKENS.get(token_string)


app = Flask(__name__)
server = AuthorizationServer(app, query_client=CLIENT_LIST.get, save_token=save_token)


class ClientCredentials(grants.ClientCredentialsGrant):
    # Both standard methods; each client allows one (check_endpoint_auth_method).
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


server.register_grant(ClientCredentials)
require_oauth = ResourceProtector()
require_oauth.register_token_validator(Validator())


@app.route("/connect/token", methods=["POST"])
def issue_token():
    return server.create_token_response()


@app.route(f"/api/v1/partner/<app_id>/GetSiteByApplication")
@require_oauth("rapapi")
def site_list(app_id):
    if app_id.lower() != APP_ID:
        return jsonify({"Message": "No matching resource was found."}), 404
    return jsonify(SITES)


@app.route(f"/api/v1/partner/<app_id>/<org>/Clients")
@require_oauth("partner-read")
def clients(app_id, org):
    if app_id.lower() != APP_ID or org.upper() not in CLIENTS:
        return jsonify({"Message": "No matching resource was found."}), 404
    return app.response_class(json.dumps(CLIENTS[org.upper()]), mimetype="application/json")


def main():
    http = make_server("127.0.0.1", 0, app, threaded=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(http.server_port))
    import os

    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    # Bounded: never outlives a forgotten test by more than ten minutes.
    threading.Timer(600, http.shutdown).start()
    http.serve_forever()


if __name__ == "__main__":
    main()
