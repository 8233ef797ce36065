#!/bin/bash
# Creates afg's tables and queues in every region, with the names the CDK app and the local runner
# use (lib/config.ts): per region <prefix>-blocks|finality|state tables (pk/sk strings, on demand),
# <prefix>-votes and <prefix>-finalized queues, one <prefix>-proposals-m<i> inbox per member hosted
# there (members are placed round-robin over the regions, as `npm start` and `afg keygen` do), and
# <prefix>-ingress in the home region (the first one). Every queue gets a <name>-dlq.
#
# Environment (from docker-compose.yml): AFG_PREFIX (afg), AFG_REGIONS (comma-separated, first = home),
# AFG_VALIDATORS (default: one per region). Idempotent: existing tables are kept, existing queues have
# their attributes reset. The local runner converges queue attributes again when it starts.
set -euo pipefail

PREFIX="${AFG_PREFIX:-afg}"
IFS=',' read -r -a REGIONS <<< "${AFG_REGIONS:-us-east-1,eu-west-1,ap-northeast-1,sa-east-1}"
VALIDATORS="${AFG_VALIDATORS:-${#REGIONS[@]}}"
HOME_REGION="${REGIONS[0]}"
# The redrive count and the visibility timeouts below (2 s inboxes and ingress, 5 s votes and finalized)
# are the local runner's (lib/local/cluster.ts); on AWS the CDK app uses 5 receives and 6x each
# consumer's Lambda timeout.
MAX_RECEIVE_COUNT=20

create_table() { # region name
  if awslocal --region "$1" dynamodb describe-table --table-name "$2" > /dev/null 2>&1; then
    echo "afg: table $2 exists in $1"
    return
  fi
  awslocal --region "$1" dynamodb create-table --table-name "$2" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE > /dev/null
  echo "afg: created table $2 in $1"
}

ensure_queue() { # region name attributes-json
  local url
  if url=$(awslocal --region "$1" sqs create-queue --queue-name "$2" --attributes "$3" --query QueueUrl --output text 2> /dev/null); then
    echo "afg: queue $2 ready in $1" >&2
  else
    url=$(awslocal --region "$1" sqs get-queue-url --queue-name "$2" --query QueueUrl --output text)
    awslocal --region "$1" sqs set-queue-attributes --queue-url "$url" --attributes "$3"
    echo "afg: updated queue $2 in $1" >&2
  fi
  echo "$url"
}

create_queue_with_dlq() { # region name visibility-seconds
  local dlq_url dlq_arn redrive
  dlq_url=$(ensure_queue "$1" "$2-dlq" '{"MessageRetentionPeriod":"1209600"}')
  dlq_arn=$(awslocal --region "$1" sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn \
    --query Attributes.QueueArn --output text)
  redrive="{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":$MAX_RECEIVE_COUNT}"
  ensure_queue "$1" "$2" "{\"VisibilityTimeout\":\"$3\",\"RedrivePolicy\":\"$redrive\"}" > /dev/null
}

for region in "${REGIONS[@]}"; do
  for table in blocks finality state; do create_table "$region" "$PREFIX-$table"; done
  create_queue_with_dlq "$region" "$PREFIX-votes" 5
  create_queue_with_dlq "$region" "$PREFIX-finalized" 5
done
for ((i = 1; i <= VALIDATORS; i++)); do
  create_queue_with_dlq "${REGIONS[$(((i - 1) % ${#REGIONS[@]}))]}" "$PREFIX-proposals-m$i" 2
done
create_queue_with_dlq "$HOME_REGION" "$PREFIX-ingress" 2
echo "afg: resources ready in ${REGIONS[*]} (home $HOME_REGION, $VALIDATORS validators)"
