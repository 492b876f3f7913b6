#!/usr/bin/env bash
# Attaches the cognito-triggers function to an existing user pool's Define, Create and
# Verify auth challenge triggers (and PreSignUp with --pre-sign-up), keeping every other
# setting of the pool. `update-user-pool` resets whatever it is not given, so this reads
# the pool first and sends all of its updatable settings back with the new LambdaConfig.
#
#   deploy/wire-existing-pool.sh <user-pool-id> <function-arn> [--pre-sign-up] [--dry-run]
#
# --dry-run prints the update request instead of sending it. DESCRIBE_JSON=<file> reads
# the pool description from a file instead of calling `aws` (used by the offline check).
set -euo pipefail
pool=${1:?usage: wire-existing-pool.sh <user-pool-id> <function-arn> [--pre-sign-up] [--dry-run]}
arn=${2:?usage: wire-existing-pool.sh <user-pool-id> <function-arn> [--pre-sign-up] [--dry-run]}
shift 2
pre_sign_up=false dry_run=false
for a in "$@"; do
  case "$a" in
    --pre-sign-up) pre_sign_up=true ;;
    --dry-run) dry_run=true ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
if [ -n "${DESCRIBE_JSON:-}" ]; then
  described=$(cat "$DESCRIBE_JSON")
else
  described=$(aws cognito-idp describe-user-pool --user-pool-id "$pool" --output json)
fi
request=$(POOL="$pool" ARN="$arn" PRE="$pre_sign_up" python3 -c '
import json, os, sys
pool = json.load(sys.stdin)["UserPool"]
# The fields UpdateUserPool accepts, copied as they are so nothing is reset.
keep = ["Policies", "DeletionProtection", "LambdaConfig", "AutoVerifiedAttributes",
        "SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject",
        "VerificationMessageTemplate", "SmsAuthenticationMessage", "UserAttributeUpdateSettings",
        "MfaConfiguration", "DeviceConfiguration", "EmailConfiguration", "SmsConfiguration",
        "UserPoolTags", "AdminCreateUserConfig", "UserPoolAddOns", "AccountRecoverySetting",
        "PoolName", "UserPoolTier"]
req = {k: pool[k] for k in keep if k in pool}
req["UserPoolId"] = os.environ["POOL"]
# describe-user-pool reports this read-only field inside AdminCreateUserConfig.
req.get("AdminCreateUserConfig", {}).pop("UnusedAccountValidityDays", None)
lc = req.setdefault("LambdaConfig", {})
for trigger in ["DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse"]:
    lc[trigger] = os.environ["ARN"]
if os.environ["PRE"] == "true":
    lc["PreSignUp"] = os.environ["ARN"]
print(json.dumps(req, indent=2, sort_keys=True))
' <<<"$described")
if $dry_run; then
  echo "$request"
else
  aws cognito-idp update-user-pool --cli-input-json "$request"
  echo "wired $arn to $pool"
fi
