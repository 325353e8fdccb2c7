#!/usr/bin/env bash
# Starts the comfyui-worker-drain Cloud Run job (job.yaml) every 15 minutes with Cloud Scheduler.
# A run ends within LHW_MAX_RUNTIME_SEC (780 s) of its start, leaving 2 minutes of the period for the
# execution to start, so executions never overlap (test/infra-gcp.test.ts checks it).
# Needs: GCP_PROJECT, GCP_REGION, and SCHEDULER_SERVICE_ACCOUNT, an account allowed to run the
# job (roles/run.invoker on it). Run it again after changing the schedule: it updates in place.
set -euo pipefail
: "${GCP_PROJECT:?set GCP_PROJECT}" "${GCP_REGION:?set GCP_REGION}" "${SCHEDULER_SERVICE_ACCOUNT:?set SCHEDULER_SERVICE_ACCOUNT}"

JOB=comfyui-worker-drain
SCHEDULE='*/15 * * * *'
URI="https://${GCP_REGION}-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/${GCP_PROJECT}/jobs/${JOB}:run"

action=create
if gcloud scheduler jobs describe "${JOB}-schedule" --location "$GCP_REGION" --project "$GCP_PROJECT" >/dev/null 2>&1; then
  action=update
fi
gcloud scheduler jobs "$action" http "${JOB}-schedule" \
  --project "$GCP_PROJECT" \
  --location "$GCP_REGION" \
  --schedule "$SCHEDULE" \
  --time-zone UTC \
  --uri "$URI" \
  --http-method POST \
  --oauth-service-account-email "$SCHEDULER_SERVICE_ACCOUNT"
