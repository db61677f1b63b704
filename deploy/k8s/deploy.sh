#!/usr/bin/env bash
# Deploy one overlay with plain kubectl, migrations first:
#   1. everything but the services (namespace, config, network policies, service accounts,
#      the dev overlay's servers and bucket Job) and the migrations Job, after deleting the
#      previous release's Jobs (a Job's pod template is immutable);
#   2. wait until the Job has completed; stop if it failed (the old release keeps running);
#   3. the whole release, then wait for every Deployment to roll out.
# Usage: deploy/k8s/deploy.sh dev|production|<overlay dir>   (KUBECTL=... to use another binary)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
overlay=${1:?usage: deploy.sh dev|production|<overlay dir>}
[ -d "$overlay" ] || overlay="$here/overlays/$overlay"
kubectl=${KUBECTL:-kubectl}
timeout=${MIGRATE_TIMEOUT_SECONDS:-1800}
services='api,search-api,web,ingest-worker,search-worker,doi-worker,ingress'

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"$kubectl" kustomize "$overlay" >"$rendered"
# kustomize prints `metadata.namespace` of every namespaced object; the first one is the release's.
ns=$(awk '$1 == "namespace:" { print $2; exit }' "$rendered")
k() { "$kubectl" --namespace "$ns" "$@"; }

if ! grep -q '^  name: dandelion-secrets' "$rendered" && ! k get secret dandelion-secrets >/dev/null; then
    echo "deploy.sh: create the dandelion-secrets Secret first (deploy/k8s/base/secret-template.yaml)" >&2
    exit 1
fi

k delete job --selector 'app.kubernetes.io/component in (migrate,bootstrap)' --ignore-not-found --wait=true
"$kubectl" apply -f "$rendered" --selector "app.kubernetes.io/component notin ($services)"

echo "deploy.sh: waiting for the migrations Job" >&2
for ((waited = 0; ; waited += 5)); do
    state=$(k get job dandelion-migrate -o 'jsonpath={.status.conditions[?(@.status=="True")].type}')
    case "$state" in
        *Complete*) break ;;
        *Failed*)
            k logs job/dandelion-migrate --tail=50 >&2 || true
            echo "deploy.sh: migrations failed; the running release is unchanged" >&2
            exit 1 ;;
    esac
    if ((waited >= timeout)); then
        echo "deploy.sh: migrations still running after ${timeout}s" >&2
        exit 1
    fi
    sleep 5
done

"$kubectl" apply -f "$rendered"
for deployment in $(k get deployment --selector app.kubernetes.io/part-of=dandelion -o name); do
    k rollout status "$deployment" --timeout=15m
done
