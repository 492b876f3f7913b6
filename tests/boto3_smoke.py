"""boto3 (unmodified) against the Cognito stand-in: the calls this product relies on,
and Cognito's SRP (USER_SRP_AUTH) checked with pycognito's independent client
implementation, with and without a client secret (SECRET_HASH).

Run by the end-to-end suite; needs `pip install boto3 pycognito` (scripts/test
installs them).
"""
import base64
import hashlib
import hmac
import os
import sys

import boto3
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

client = boto3.client(
    "cognito-idp",
    region_name="eu-west-1",
    endpoint_url=os.environ["COGNITO_URL"],
    aws_access_key_id="AKIDBOTO3",
    aws_secret_access_key="boto3-secret",
)
pool, app = os.environ["POOL_ID"], os.environ["CLIENT_ID"]

auth = client.initiate_auth(
    ClientId=app,
    AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": "dave@example.test", "PASSWORD": "Dave-password-1"},
)["AuthenticationResult"]
assert auth["TokenType"] == "Bearer"
me = client.get_user(AccessToken=auth["AccessToken"])
users = client.list_users(UserPoolId=pool, Filter='email = "dave@example.test"')["Users"]
assert [u["Username"] for u in users] == [me["Username"]], users

started = client.initiate_auth(ClientId=app, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "dave@example.test"})
assert started["ChallengeName"] == "CUSTOM_CHALLENGE"
assert {"ceremonyId", "publicKey", "USERNAME"} <= set(started["ChallengeParameters"]), started

try:
    client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "dave@example.test", "PASSWORD": "wrong"},
    )
    sys.exit("a wrong password signed in")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NotAuthorizedException", e.response

client.revoke_token(Token=auth["RefreshToken"], ClientId=app)
try:
    client.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]})
    sys.exit("a revoked refresh token worked")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NotAuthorizedException", e.response

# SRP, as Amplify's default signIn does it, computed by pycognito (not by us).
for client_id, secret in [(app, None), (os.environ["SECRET_CLIENT_ID"], os.environ["CLIENT_SECRET"])]:
    srp = AWSSRP("dave@example.test", "Dave-password-1", pool, client_id, client=client, client_secret=secret)
    tokens = srp.authenticate_user()["AuthenticationResult"]
    assert client.get_user(AccessToken=tokens["AccessToken"])["Username"] == me["Username"]
    try:
        AWSSRP("dave@example.test", "Wrong-password-1", pool, client_id, client=client, client_secret=secret).authenticate_user()
        sys.exit("SRP accepted a wrong password")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotAuthorizedException", e.response
    # An unknown user is refused like a wrong password (PreventUserExistenceErrors).
    try:
        AWSSRP("nobody@example.test", "Dave-password-1", pool, client_id, client=client, client_secret=secret).authenticate_user()
        sys.exit("SRP signed in an unknown user")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotAuthorizedException", e.response

# A confidential client: no SECRET_HASH, or a wrong one, is refused.
secret_client = os.environ["SECRET_CLIENT_ID"]
for params in [{}, {"SECRET_HASH": base64.b64encode(b"not it").decode()}]:
    try:
        client.initiate_auth(ClientId=secret_client, AuthFlow="CUSTOM_AUTH",
                             AuthParameters={"USERNAME": "dave@example.test", **params})
        sys.exit(f"a confidential client was used without its secret: {params}")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotAuthorizedException", e.response
good = base64.b64encode(hmac.new(os.environ["CLIENT_SECRET"].encode(),
                                 ("dave@example.test" + secret_client).encode(), hashlib.sha256).digest()).decode()
started = client.initiate_auth(ClientId=secret_client, AuthFlow="CUSTOM_AUTH",
                               AuthParameters={"USERNAME": "dave@example.test", "SECRET_HASH": good})
assert started["ChallengeName"] == "CUSTOM_CHALLENGE"

# Cognito's messages for a missing USERNAME.
try:
    client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH", AuthParameters={"SRP_A": "02"})
    sys.exit("no USERNAME accepted")
except ClientError as e:
    assert e.response["Error"]["Message"] == "Missing required parameter USERNAME", e.response
print("boto3 ok")
