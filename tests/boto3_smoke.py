"""boto3 (unmodified) against the Cognito stand-in: the calls this product relies on.

Run by the end-to-end suite; needs `pip install boto3` (scripts/test installs it).
"""
import os
import sys

import boto3
from botocore.exceptions import ClientError

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
print("boto3 ok")
