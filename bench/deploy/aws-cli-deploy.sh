#!/usr/bin/env bash
# Deploys the example staging service with the aws CLI, jq and curl, the
# way the team deployed before greenlight. It is the baseline of the
# deploy benchmarks and talks only to a loopback testbed.
#
# Usage: aws-cli-deploy.sh TAG
#
# Environment:
#   AWS_ENDPOINT_URL  the testbed's AWS endpoint, http://127.0.0.1:PORT
#                     (anything else is rejected)
#   SMOKE_PORT        the testbed's HTTPS smoke port on 127.0.0.1
#   SMOKE_CA_FILE     the testbed's CA certificate
#   AWS_CLI           the aws executable (default: BENCH_VENV/bin/aws,
#                     installed there with pip when missing)
#   BENCH_VENV        default /tmp/greenlight-bench-venv
#
# Steps, in order: describe-services, describe-task-definition,
# describe-secret by name for each secret, rewrite of secret ARNs and
# images with jq, register-task-definition, update-service
# --force-new-deployment, `aws ecs wait services-stable`, get-secret-value
# and one smoke request with curl. Progress goes to stderr, one line per
# step; the benchmark timestamps the line "services-stable returned".
set -euo pipefail

tag=${1:?usage: aws-cli-deploy.sh TAG}
endpoint=${AWS_ENDPOINT_URL:?AWS_ENDPOINT_URL must point at the testbed}
smoke_port=${SMOKE_PORT:?SMOKE_PORT must be the testbed smoke_https_port}
ca_file=${SMOKE_CA_FILE:?SMOKE_CA_FILE must be the testbed ca.pem}
venv=${BENCH_VENV:-/tmp/greenlight-bench-venv}
aws_cli=${AWS_CLI:-$venv/bin/aws}

# The example environment, as examples/afu9/greenlight.toml describes it.
region=eu-central-1
cluster=afu9-cluster
service=afu9-control-center-staging
host=stage.afu-9.com
smoke_path='/api/timeline/chain?limit=1'
smoke_secret=afu9/stage/smoke-key
database_secret=afu9/stage/database
registry=123456789012.dkr.ecr.eu-central-1.amazonaws.com

if ! [[ $endpoint =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
  echo "AWS_ENDPOINT_URL must be http://127.0.0.1:PORT, got: $endpoint" >&2
  exit 2
fi

if [ ! -x "$aws_cli" ]; then
  echo "installing awscli into $venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet awscli
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A config and credentials file of our own, so that no profile, SSO
# session or instance metadata of this machine can send a call elsewhere.
cat > "$work/config" <<EOF
[default]
region = $region
endpoint_url = $endpoint
EOF
export AWS_CONFIG_FILE=$work/config
export AWS_SHARED_CREDENTIALS_FILE=$work/config
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_EC2_METADATA_DISABLED=true
export AWS_DEFAULT_REGION=$region
unset AWS_PROFILE AWS_SESSION_TOKEN

# Every call names the endpoint explicitly as well.
aws_call() {
  "$aws_cli" --endpoint-url "$endpoint" --region "$region" "$@"
}

step() {
  echo "$(date -u +%H:%M:%S.%N | cut -c1-12) $*" >&2
}

step "describe-services"
live_arn=$(aws_call ecs describe-services --cluster "$cluster" --services "$service" \
  --query 'services[0].taskDefinition' --output text)

step "describe-task-definition $live_arn"
aws_call ecs describe-task-definition --task-definition "$live_arn" > "$work/described.json"

step "describe-secret $smoke_secret"
smoke_arn=$(aws_call secretsmanager describe-secret --secret-id "$smoke_secret" \
  --query ARN --output text)
step "describe-secret $database_secret"
database_arn=$(aws_call secretsmanager describe-secret --secret-id "$database_secret" \
  --query ARN --output text)

step "rewrite secrets and images"
# Drop the read-only fields that RegisterTaskDefinition rejects, point the
# five containers at this build's tag, and bind both secrets by their
# current ARN in secrets[] (removing any plaintext copy in environment[]).
jq --arg registry "$registry" --arg tag "$tag" \
  --arg smoke "$smoke_arn" --arg database "$database_arn:url::" '
  def bind($name; $arn):
    .secrets = ([(.secrets // [])[] | select(.name != $name)] + [{name: $name, valueFrom: $arn}])
    | .environment = [(.environment // [])[] | select(.name != $name)];
  .taskDefinition
  | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
        .registeredAt, .registeredBy, .deregisteredAt)
  | .containerDefinitions |= map(
      if .name == "control-center" or .name == "mcp-github" or .name == "mcp-deploy"
         or .name == "mcp-observability" or .name == "mcp-runner"
      then .image = "\($registry)/afu9/\(.name):\($tag)" else . end
      | if .name == "control-center"
        then bind("AFU9_SMOKE_KEY"; $smoke) | bind("DATABASE_URL"; $database)
        else . end)
  ' "$work/described.json" > "$work/register.json"

step "register-task-definition"
new_arn=$(aws_call ecs register-task-definition --cli-input-json "file://$work/register.json" \
  --query 'taskDefinition.taskDefinitionArn' --output text)

step "update-service $new_arn"
aws_call ecs update-service --cluster "$cluster" --service "$service" \
  --task-definition "$new_arn" --force-new-deployment > /dev/null

step "wait services-stable"
aws_call ecs wait services-stable --cluster "$cluster" --services "$service"
step "services-stable returned"

step "get-secret-value $smoke_secret"
# The key goes to curl through a header file, never on a command line.
umask 077
printf 'x-afu9-smoke-key: %s\n' \
  "$(aws_call secretsmanager get-secret-value --secret-id "$smoke_arn" --query SecretString --output text)" \
  > "$work/key-header"

step "smoke GET https://$host$smoke_path"
# Old tasks may still respond right after the waiter, so retry a few times.
for attempt in 1 2 3 4 5; do
  status=$(curl --silent --show-error --max-time 10 \
    --connect-to "$host:443:127.0.0.1:$smoke_port" --cacert "$ca_file" \
    -H "@$work/key-header" -D "$work/headers" -o /dev/null -w '%{http_code}' \
    "https://$host$smoke_path" || true)
  if [ "$status" = 200 ] \
    && grep -qi '^x-afu9-smoke-key-match: 1' "$work/headers" \
    && grep -qi '^x-afu9-smoke-auth-used: 1' "$work/headers"; then
    step "smoke passed on attempt $attempt"
    echo GREEN
    exit 0
  fi
  step "smoke attempt $attempt: HTTP $status, retrying"
  sleep 1
done
echo RED
exit 1
