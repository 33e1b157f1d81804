#!/bin/sh
# Runs once in temporalio/admin-tools after the server is healthy: the namespace, with a deliberate
# retention period, and the project's search attributes (workflows/search_attributes.py).
set -eu
address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-safeguarding}"
until temporal operator cluster health --address "$address"; do sleep 2; done
temporal operator namespace describe -n "$namespace" --address "$address" \
  || temporal operator namespace create -n "$namespace" --retention "${TEMPORAL_RETENTION:-90d}" --address "$address"
for attribute in CaseKind=Keyword CaseStage=Keyword LocalAuthority=Keyword Partnership=Keyword \
                 NextDeadline=Datetime DeadlineMissed=Bool NeedsAttention=Bool; do
  temporal operator search-attribute create --namespace "$namespace" --address "$address" \
    --name "${attribute%%=*}" --type "${attribute#*=}" || true   # already registered
done
